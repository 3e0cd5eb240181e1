"""The `model:` node's schema (conf/model/*.yaml, ConfigStore `model/model_schema`).

Every key and its default is here; an option file states what differs (its name, architecture,
hashing, CSR index width and training recipe). A `_target_` model (conf/model/target.yaml,
torchvision_*, deit_tiny) passes every key that is not ours to its constructor, so its node stays
open; `tasks.config.check_config` checks our keys of it against this schema all the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

from omegaconf import MISSING, OmegaConf

from nncompress.core import checks

OPTIMIZERS = ("adam", "sgd")  # model.train.optimizer, and method.optimizer of method=baseline|l2


@dataclass
class TrainRecipe:
    """model.train: the architecture's own training recipe (method=baseline, init_from=auto). The
    default is Adam at 1e-3 for 100,000 steps: papers 000 and 001 pretrain their LeNets with Adam and
    give no more; a `_target_` model without a recipe of its own trains so too."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    steps: int = 100000
    milestones: List[int] = field(default_factory=list)  # steps after which lr x 0.1

    def __post_init__(self) -> None:
        check_optimizer("model.train", self, self.steps, "steps")


def check_optimizer(node: str, settings, steps: int, steps_key: str) -> None:
    """The checks of an optimiser recipe (optimizer, lr, momentum, weight_decay, milestones and its
    step count under `steps_key`): model.train's, and method=baseline / l2's, which restate it."""
    checks.choice(f"{node}.optimizer", settings.optimizer, OPTIMIZERS)
    checks.positive(f"{node}.lr", settings.lr)
    checks.number(f"{node}.momentum", settings.momentum, 0, 1, high_open=True)
    checks.number(f"{node}.weight_decay", settings.weight_decay, 0)
    checks.integer(f"{node}.{steps_key}", steps, 0)
    checks.integers(f"{node}.milestones", settings.milestones, 1)


@dataclass
class ModelConfig:
    name: str = MISSING   # the run's model name (results.json `model`, pretrained dirs, sweep dirs)
    arch: str = MISSING   # the architecture (models.ARCHITECTURES), or a `_target_` model's name
    hashing: Dict[str, int] = field(default_factory=dict)   # layer -> hashing factor (Chen et al. 2015)
    hash_seed: int = 0
    csr_index_bits: int = 8   # relative column index width of the CSR file (paper 001, B.2)
    train: TrainRecipe = field(default_factory=TrainRecipe)

    def __post_init__(self) -> None:
        for layer, factor in self.hashing.items():
            checks.integer(f"model.hashing.{layer}", factor, 1)
        checks.integer("model.hash_seed", self.hash_seed, 0)
        checks.integer("model.csr_index_bits", self.csr_index_bits, 1, 32)


@dataclass
class TargetModelConfig(ModelConfig):
    """A model built from `_target_` (models/targets.py): our keys typed and checked as any model's;
    the node is stored open (struct off) since every other key is an argument of the constructor."""

    _target_: str = MISSING


# The keys of conf/model/*.yaml that are ours; with a `_target_` model every other key is its argument.
MODEL_KEYS = tuple(TargetModelConfig.__dataclass_fields__)


def schemas() -> dict:
    """{(group, name): node} for Hydra's ConfigStore (tasks.config.register_schemas)."""
    return {("model", "model_schema"): ModelConfig,
            ("model", "target_schema"): OmegaConf.structured(TargetModelConfig, flags={"struct": False})}
