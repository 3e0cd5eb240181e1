"""Two-hidden-layer MLP with dropout: paper 003's MNIST model (784-256-256-10).

Source: Gao et al., rate-distortion objectives for pruning and quantisation (paper 003,
REFERENCE.md §4) and its public code (wgao9/compression, MNIST recipe: dropout 0.2 after each
hidden ReLU). 269,322 parameters for 28 x 28 inputs and 10 classes.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """``in -> widths[0] -> widths[1] -> classes``, ReLU then Dropout(``dropout``) after each hidden layer.

    Dropout is an ``nn.Dropout`` module, so it is active in ``train()`` mode only.
    """

    layer_names = ("fc1", "fc2", "fc3")

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        widths: Sequence[int] = (256, 256),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        h1, h2 = widths  # narrower after structured pruning
        self.fc1 = nn.Linear(in_channels * image_size * image_size, h1)
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(h1, h2)
        self.drop2 = nn.Dropout(dropout)
        self.fc3 = nn.Linear(h2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop1(F.relu(self.fc1(x.flatten(1))))
        x = self.drop2(F.relu(self.fc2(x)))
        return self.fc3(x)


MLP784 = MLP  # the paper's name for the MNIST configuration (the defaults)
