"""Deterministic training of the coded network: reference numbers, the L2 row of paper 001's
Table 2 (`method=l2`: weight decay), and the trained start of every method with `init_from`.

The optimiser is the architecture's own recipe where its model config gives one (`model.train`:
SGD with momentum and step decays for paper 003's MLP and CNN), else Adam."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import torch
import torch.nn.functional as F
from omegaconf import MISSING
from torch import nn

from nncompress.core.errors import UserError
from nncompress.methods.base import BuildContext, ClassifierModule, Family, register
from nncompress.methods.frontier_rows import FrontierRows, Knob
from nncompress.models.coded import CodedNetwork
from nncompress.models.config import OPTIMIZERS, check_optimizer


@dataclass
class BaselineSettings:
    """The `method:` node of method=baseline (conf/method/baseline.yaml: the architecture's own
    recipe, model.train) and method=l2 (paper 001's L2 row: Adam with weight decay)."""

    name: str = MISSING
    family: str = "baseline"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0             # sgd only
    weight_decay: float = 0.0
    milestones: List[int] = field(default_factory=list)   # steps after which lr x 0.1
    train_steps: int = MISSING

    def __post_init__(self) -> None:
        check_optimizer("method", self, self.train_steps, "train_steps")


class BaselineModule(ClassifierModule):
    def __init__(self, network: CodedNetwork, lr: float = 1e-3, weight_decay: float = 0.0, optimizer: str = "adam",
                 momentum: float = 0.0, milestones=(), gamma: float = 0.1):
        """milestones: training steps after which the learning rate is multiplied by gamma."""
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise UserError(f"method.optimizer: unknown optimiser '{optimizer}'; choose one of {list(OPTIMIZERS)}")
        self.network = network
        self.lr, self.weight_decay, self.optimizer = lr, weight_decay, optimizer
        self.momentum, self.milestones, self.gamma = momentum, list(milestones), gamma
        self.weights = nn.Parameter(network.init_vector())

    def eval_weights(self) -> torch.Tensor:
        return self.weights

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.network(x, self.weights), y)
        self.log("train/ce", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        if self.optimizer == "sgd":
            opt = torch.optim.SGD([self.weights], lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.Adam([self.weights], lr=self.lr, weight_decay=self.weight_decay)
        if not self.milestones:
            return opt
        decay = torch.optim.lr_scheduler.MultiStepLR(opt, self.milestones, self.gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": decay, "interval": "step"}}


def load_baseline_into(net: nn.Module, path, spec) -> None:
    """Initialise a plain architecture from a `method=baseline` run (its dir or a checkpoint)."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.exists():
        raise UserError(f"init_from: no checkpoint at {path} (train one with method=baseline coding=none)")
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    if "weights" not in state:
        raise UserError(f"init_from: {path} is not a method=baseline checkpoint")
    coded = CodedNetwork(spec)
    if state["weights"].numel() != coded.n_coded:
        raise UserError(f"init_from: {path} holds {state['weights'].numel()} weights, "
                        f"model {spec.name} needs {coded.n_coded}")
    # The parameters from the coded vector, the buffers (BatchNorm statistics) as trained.
    buffers = {k[len("network.net."):]: v for k, v in state.items() if k.startswith("network.net.")}
    net.load_state_dict({**buffers, **{k: v.detach() for k, v in coded.expand(state["weights"]).items()}})


RECIPE_KEYS = ("lr", "weight_decay", "optimizer", "momentum", "milestones")  # BaselineModule's settings
WEIGHT_DECAY = (Knob("weight_decay", path="method.weight_decay"),)


@register
class BaselineFamily(Family):
    key, codec = "baseline", "none"
    schemas = {("method", "baseline_schema"): BaselineSettings}
    frontier = (FrontierRows("l2", "L2 (dense)", "s", "black", "weight decay {weight_decay}", WEIGHT_DECAY, dense=True),
                FrontierRows("baseline", "baseline (dense)", "s", "grey", "weight decay {weight_decay}", WEIGHT_DECAY,
                             dense=True))

    def build(self, cfg, ctx: BuildContext):
        # The keys the node has (BaselineSettings states them all; a run saved before a key existed
        # lacks it): BaselineModule's signature is the one fallback, no default is restated here.
        return BaselineModule(ctx.network, **{k: cfg.method[k] for k in RECIPE_KEYS if k in cfg.method})
