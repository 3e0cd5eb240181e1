"""The `method:` node of method=meankl|meanvar (paper 000), as Hydra schemas: every key, its type
and its default (the paper's value); conf/method/meankl.yaml and meanvar.yaml state what differs,
the scale overlays what a scale changes. A value out of range is a one-line error at start-up
(`__post_init__`, run by tasks.config.check_config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from nncompress.core import checks


@dataclass
class BudgetWarmup:
    """Mean-KL's block budget warm-up: factor x C_block at step 0, a geometric fall to C_block at
    `steps`, then C_block (coding always). The paper: C_block from step 0 (factor 1, steps 0)."""

    factor: float = 1.0
    steps: int = 0


@dataclass
class LrDecay:
    """Every rate constant until `start`, then linearly to `final` x itself at `steps` (steps 0: off,
    the paper). Tried at quick scale (1500 -> 3000, final 0): worse, 2.79 % against 2.34 %."""

    start: int = 0
    steps: int = 0
    final: float = 1.0


@dataclass
class MiracleSettings:
    name: str = MISSING
    family: str = "mkl"
    posterior: str = MISSING          # meankl | meanvar
    lr: float = 1e-3                  # Adam
    log_rho_init: float = -2.0        # per-layer coding distribution N(0, rho^2), learned, frozen for coding
    train_steps: int = MISSING

    def __post_init__(self) -> None:
        checks.choice("method.posterior", self.posterior, (type(self).posterior,))  # the schema's own
        checks.positive("method.lr", self.lr)
        checks.number("method.log_rho_init", self.log_rho_init)
        checks.integer("method.train_steps", self.train_steps, 0)


@dataclass
class MeanKLSettings(MiracleSettings):
    """Mean-KL: every block's KL equals the budget by construction, so the loss is cross-entropy alone."""

    posterior: str = "meankl"
    halley_steps: int = 0             # 0: Pade [3/2] Lambert W (paper); > 0 refines it by Halley steps
    budget_warmup: BudgetWarmup = field(default_factory=BudgetWarmup)
    # The quota logits gamma train at lr x this (paper: one rate). Quick: 10x, so the quotas separate
    # while the warm-up budget falls (block 30: 2.34 % -> 1.81 % before coding; experiments/README.md).
    lr_gamma_factor: float = 1.0
    lr_decay: LrDecay = field(default_factory=LrDecay)

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.integer("method.halley_steps", self.halley_steps, 0)
        w, d = self.budget_warmup, self.lr_decay
        checks.number("method.budget_warmup.factor", w.factor, 1)
        checks.integer("method.budget_warmup.steps", w.steps, 0)
        checks.positive("method.lr_gamma_factor", self.lr_gamma_factor)
        checks.integer("method.lr_decay.start", d.start, 0)
        checks.integer("method.lr_decay.steps", d.steps, d.start)
        checks.number("method.lr_decay.final", d.final, 0)


@dataclass
class MeanVarSettings(MiracleSettings):
    """Mean-Var (Havasi et al. 2019): one KL weight beta_b per block, multiplied by (1 + eps) while
    KL_b exceeds the budget and divided by it otherwise."""

    posterior: str = "meanvar"
    log_sigma_init: float = -10.0
    beta_init: float = 1e-8
    beta_eps: float = 5e-5
    beta_eps_coding: Optional[float] = None   # None: as beta_eps (the public code: 5e-4 during coding)

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.number("method.log_sigma_init", self.log_sigma_init)
        checks.positive("method.beta_init", self.beta_init)
        checks.positive("method.beta_eps", self.beta_eps)
        if self.beta_eps_coding is not None:
            checks.positive("method.beta_eps_coding", self.beta_eps_coding)


SCHEMAS = {("method", "meankl_schema"): MeanKLSettings, ("method", "meanvar_schema"): MeanVarSettings}
