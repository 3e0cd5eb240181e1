"""Deterministic training of the coded network (reference numbers and pretraining)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.methods.base import ClassifierModule
from nncompress.models.coded import CodedNetwork


class BaselineModule(ClassifierModule):
    def __init__(self, network: CodedNetwork, lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__()
        self.network = network
        self.lr, self.weight_decay = lr, weight_decay
        self.weights = nn.Parameter(network.init_vector())

    def eval_weights(self) -> torch.Tensor:
        return self.weights

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.network(x, self.weights), y)
        self.log("train/ce", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam([self.weights], lr=self.lr, weight_decay=self.weight_decay)
