"""The settings of a PWFN run (paper 002; REFERENCE.md §3) and their checks at start-up.

Every key of the `method:` node of method=pwfn is a field here, with its default (the paper's), and
PwfnSettings is that node's schema in Hydra's ConfigStore (`pwfn_schema`): a misspelt key fails
while composing, a value out of range is a one-line UserError at start-up (`__post_init__`, run by
tasks.config.check_config, and again by `settings_from_config`).

    fixing            appendix (Algorithm 1, the default) | public (the authors' code's round)
    count             Algorithm 1's "most weights": within_delta (default) | nearest (as printed)
    zero_fix          public only: |mu| < 2^-b sits at distance 0 of centre 0
    push_fixed        the sigma push also acts on fixed sigmas (the public code's behaviour)
    schedule          p_t, the fraction fixed after round t: strictly increasing, ends at 1.0
    alpha, gamma      the sigma push (alpha/2) sum |eps| relu(gamma - sigma)^2; alpha >= 0, gamma >= 0
    max_omega         most powers of two per centre, 1..4
    delta0, b         Algorithm 1's starting delta (> 0); smallest power 2^-b of the centres
    epochs_per_round  epochs of training before rounds 1..T-1 (round 0: one epoch on
                      round0_fraction of the batches)
    batches_per_epoch a fraction of the training set (float, 1.0 = all) or a count of batches
                      (int), Lightning's limit_train_batches (scale=quick: 0.1)
    lr, momentum, weight_decay, clip_norm   SGD of every round (a fresh optimiser per round)
    log_every         training steps between logged training metrics
    stop_after_round  stop (resumably) after this round (None: run all)
    figure            the appendix figure a recipe's job belongs to (report/papers/pwfn.py), or None

"Before any work" includes the baseline that `init_from=auto` trains: `PwfnFamily.check` (run by
the task before it resolves init_from) calls `settings_of` and `check_model`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, List, Optional

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from nncompress.core.checks import ConfigError
from nncompress.methods.pwfn.centres import MAX_OMEGA
from nncompress.methods.pwfn.schedule import DEFAULT_ALPHA, DEFAULT_GAMMA, DEFAULT_SCHEDULE, validate_schedule

FIXING_VARIANTS = ("appendix", "public")
COUNT_MODES = ("within_delta", "nearest")
IDENTITY = ("name", "family", "train_steps")  # the method's, not settings of its rounds


class SettingsError(ConfigError, InterpolationResolutionError):
    """A bad PWFN setting: one line, even after OmegaConf appends its `full_key:` lines."""

    def __str__(self) -> str:
        return super().__str__().split("\n")[0]


@dataclass
class PwfnSettings:
    """The `method:` node of method=pwfn and its Hydra schema (`pwfn_schema`): every key and its
    default (the paper's) is here, conf/method/pwfn.yaml states none of them again."""

    name: str = MISSING
    family: str = "pwfn"
    fixing: str = "appendix"
    count: str = "within_delta"
    zero_fix: bool = False
    push_fixed: bool = False
    schedule: List[float] = field(default_factory=lambda: list(DEFAULT_SCHEDULE))  # a tuple once built
    alpha: float = DEFAULT_ALPHA
    gamma: float = DEFAULT_GAMMA
    max_omega: int = MAX_OMEGA
    delta0: float = 1.0
    b: int = 7
    epochs_per_round: int = 3
    round0_fraction: float = 0.05
    batches_per_epoch: Any = 1.0      # float | int (a fraction or a count); OmegaConf types no unions
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    clip_norm: float = 1.0
    log_every: int = 50
    stop_after_round: Optional[int] = None
    figure: Optional[str] = None
    # The rounds train inside PwfnFamily.fit (methods/pwfn/rounds.py), which records the steps they
    # ran (results.json, the final log's step); Lightning's fit does not run.
    train_steps: int = 0

    def __post_init__(self) -> None:
        self.schedule = tuple(self.schedule)
        check(self)

    def fixing_options(self) -> dict:
        """Keyword arguments of fixing.fix_layers for this run."""
        options = {"variant": self.fixing, "delta0": self.delta0, "b": self.b, "max_omega": self.max_omega}
        if self.fixing == "public":
            options["zero_fix"] = self.zero_fix
        else:
            options["count"] = self.count
        return options


def _finite(name: str, value, low: float | None = None, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingsError(f"method.{name} must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise SettingsError(f"method.{name} must be {'>' if low_open else '>='} {low}, got {value}")


def _integer(name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"in {low}..{high}" if high is not None else f">= {low}"
        raise SettingsError(f"method.{name} must be an integer {span}, got {value!r}")


def check(s: PwfnSettings) -> None:
    """One-line UserError for the first setting out of range."""
    if s.fixing not in FIXING_VARIANTS:
        raise SettingsError(f"method.fixing: unknown variant {s.fixing!r}; choose one of {list(FIXING_VARIANTS)}")
    if s.count not in COUNT_MODES:
        raise SettingsError(f"method.count: unknown mode {s.count!r}; choose one of {list(COUNT_MODES)}")
    if s.zero_fix and s.fixing != "public":
        raise SettingsError("method.zero_fix belongs to the public code's round: set method.fixing=public as well")
    try:
        validate_schedule(s.schedule)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"method.schedule: {exc}") from None
    _finite("alpha", s.alpha, 0.0)
    _finite("gamma", s.gamma, 0.0)
    _integer("max_omega", s.max_omega, 1, MAX_OMEGA)
    _finite("delta0", s.delta0, 0.0, low_open=True)
    _integer("b", s.b, 0)
    _integer("epochs_per_round", s.epochs_per_round, 1)
    _finite("round0_fraction", s.round0_fraction, 0.0, low_open=True)
    if s.round0_fraction > 1:
        raise SettingsError(f"method.round0_fraction must lie in (0, 1], got {s.round0_fraction}")
    n = s.batches_per_epoch
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not (
            (isinstance(n, int) and n >= 1) or (isinstance(n, float) and 0 < n <= 1)):
        raise SettingsError(f"method.batches_per_epoch must be a fraction in (0, 1] or a count >= 1, got {n!r}")
    _finite("lr", s.lr, 0.0, low_open=True)
    _finite("momentum", s.momentum, 0.0)
    _finite("weight_decay", s.weight_decay, 0.0)
    _finite("clip_norm", s.clip_norm, 0.0)
    _integer("log_every", s.log_every, 1)
    if s.figure is not None and not isinstance(s.figure, str):
        raise SettingsError(f"method.figure must be a name (e.g. figure2) or null, got {s.figure!r}")
    if s.stop_after_round is not None:
        _integer("stop_after_round", s.stop_after_round, 0, len(s.schedule) - 1)


def settings_from_config(method: dict) -> PwfnSettings:
    """PwfnSettings from the resolved `method:` node (a plain dict).

    A misspelt key is refused by Hydra itself (the composed config is a struct); keys forced in
    with `++method.x=...` that are no setting are left alone (other tools add their own)."""
    valid = [f.name for f in fields(PwfnSettings) if f.name not in IDENTITY]
    kwargs = {k: v for k, v in method.items() if k in valid}
    if "schedule" in kwargs:
        schedule = kwargs["schedule"]
        if isinstance(schedule, str) or not hasattr(schedule, "__iter__"):
            raise SettingsError(f"method.schedule must be a list of fractions, e.g. [0.2,0.4,...,1.0], "
                                f"got {schedule!r}")
        kwargs["schedule"] = tuple(schedule)
    return PwfnSettings(**kwargs)


def settings_of(cfg) -> PwfnSettings:
    """The run's settings from its config's method node, or a one-line SettingsError."""
    return settings_from_config(OmegaConf.to_container(cfg.method, resolve=True))


def check_model(cfg) -> None:
    """PWFN fixes the weights of a plain network: a hashed model (weights shared) is refused."""
    if cfg.model.get("hashing"):
        raise SettingsError(f"model={cfg.model.name} shares weights by the hashing trick; PWFN fixes the weights "
                            f"of a plain network: use an unhashed model (e.g. model=lenet5_unhashed)")
