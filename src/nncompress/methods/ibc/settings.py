"""The `method:` node of method=vd|sws|vd_sws (paper 001), as Hydra schemas: every key, its type
and, where the methods share it, its default; conf/method/<method>.yaml states the paper's values
(`module:`, the objective's and the optimiser's settings, is the family's IbcModule and terms'
arguments, checked against their signatures). A value out of range or a `module:` key no term
reads is a one-line error at start-up (`__post_init__`, run by tasks.config.check_config)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Dict, List

from omegaconf import MISSING

from nncompress.core import checks
from nncompress.methods.ibc.module import IbcModule

TERMS = ("vd", "mixture")
# method.module keys -> which term takes them; the rest go to IbcModule.
VD_KEYS = ("tau1",)
MIXTURE_KEYS = {"tau2": "tau", "phase1_steps": "start_step", "n_components": "n_components", "pi_zero": "pi_zero",
                "gamma_alpha": "gamma_alpha", "gamma_beta": "gamma_beta", "gamma_alpha_zero": "gamma_alpha_zero",
                "gamma_beta_zero": "gamma_beta_zero", "mixture_init": "init", "mixture_init_sigma": "init_sigma"}
MODULE_EXCLUDE = ("net", "n_train", "kl", "mixture")  # IbcModule's arguments that the family fills


def module_keys() -> list:
    """The keys method.module may hold: IbcModule's settings and the terms'."""
    own = set(inspect.signature(IbcModule).parameters) - set(MODULE_EXCLUDE)
    return sorted(own | set(VD_KEYS) | set(MIXTURE_KEYS))


@dataclass
class Trajectory:
    """log sigma^2 / log alpha of `weights` weights every `every` steps (0: off)."""

    every: int = 500
    weights: int = 300


@dataclass
class VdSchedule:
    """Phase 1's rates of theta and log sigma^2, constant until decay_start, then linearly to 0 at
    decay_steps (0: constant)."""

    theta: float = MISSING
    log_sigma2: float = MISSING
    decay_start: int = 0
    decay_steps: int = 0


def _schedules() -> dict:
    """Paper 001 trains phase 1 for 200 epochs and says it "matches the Sparse VD methodology"
    (Molchanov et al.); it gives Table 3's rates but no batch size or schedule. Two readings:
      table3:    Table 3's rates, constant (theta 5e-5, log sigma^2 1e-4): keeps 2.8 % of
                 LeNet-300-100's weights after 200 epochs, against the paper's 1.6 %;
      molchanov: Molchanov et al.'s policy, Adam at 1e-3 for 100 epochs, then linearly to 0 at 200
                 (their public LeNet-300-100 recipe, batch 100) - beyond Table 3, and the default at
                 paper scale because it reaches the paper's sparsity (experiments/README.md, Table 2).
    Both at batch 100 (Molchanov et al.'s; at batch 200 the same epochs are half the steps)."""
    return {"table3": VdSchedule(5e-5, 1e-4, 0, 0), "molchanov": VdSchedule(1e-3, 1e-3, 55000, 110000)}


@dataclass
class IbcSettings:
    name: str = MISSING
    family: str = "ibc"
    terms: List[str] = MISSING        # objective terms (methods/ibc/objectives.py): vd, mixture
    lr: float = 1e-3
    module: Dict[str, Any] = MISSING  # IbcModule's and the terms' settings (module_keys())
    train_steps: int = MISSING

    def __post_init__(self) -> None:
        for term in self.terms:
            checks.choice("method.terms", term, TERMS)
        checks.positive("method.lr", self.lr)
        checks.integer("method.train_steps", self.train_steps, 0)
        valid = module_keys()
        unknown = sorted(set(self.module) - set(valid))
        if unknown:
            raise checks.ConfigError(f"method.module: unknown key(s) {unknown}; valid keys: {', '.join(valid)}")
        for key in ("tau1", "tau2"):
            if key in self.module:
                checks.number(f"method.module.{key}", self.module[key], 0)
        if "pi_zero" in self.module:
            checks.number("method.module.pi_zero", self.module["pi_zero"], 0, 1, low_open=True, high_open=True)
        for key, value in self.module.items():
            if key.startswith("lr_") and not key.startswith("lr_decay"):
                checks.number(f"method.module.{key}", value, 0)
            elif key.startswith("lr_decay"):
                checks.integer(f"method.module.{key}", value, 0)


@dataclass
class SwsSettings(IbcSettings):
    terms: List[str] = field(default_factory=lambda: ["mixture"])


@dataclass
class VdSettings(IbcSettings):
    terms: List[str] = field(default_factory=lambda: ["vd"])
    schedule: str = "molchanov"       # a key of schedules (method.module's lr_* read it)
    schedules: Dict[str, VdSchedule] = field(default_factory=_schedules)
    trajectory: Trajectory = field(default_factory=Trajectory)

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.choice("method.schedule", self.schedule, list(self.schedules))
        checks.integer("method.trajectory.every", self.trajectory.every, 0)
        checks.integer("method.trajectory.weights", self.trajectory.weights, 1)


@dataclass
class VdSwsSettings(VdSettings):
    terms: List[str] = field(default_factory=lambda: ["vd", "mixture"])
    phase1_steps: int = MISSING       # phase 1 (sparse VD) steps; then the mixture term joins

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.integer("method.phase1_steps", self.phase1_steps, 0)


SCHEMAS = {("method", "sws_schema"): SwsSettings, ("method", "vd_schema"): VdSettings,
           ("method", "vd_sws_schema"): VdSwsSettings}
