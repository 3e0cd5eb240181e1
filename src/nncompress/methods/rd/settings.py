"""The settings of `method=rd` (conf/method/rd.yaml, conf/importance/*.yaml), checked at start-up.

Every bad setting fails with one line naming the valid values, before any work (`RdFamily.check`,
which the task calls before `init_from=auto` trains a baseline): a keep-rate outside (0, 1],
bits < 1 (or > 16), an unknown estimator or Hessian estimator, a key no estimator reads, or no trained
network to start from (`init_from=null`, or a run dir without a checkpoint).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from nncompress.core.checks import ConfigError
from nncompress.importance import ESTIMATORS, HESSIAN_ESTIMATORS, check_options

OPERATIONS = ("prune", "quantize", "theory")
SPLITS = ("train", "val", "test")
MAX_BITS = 16  # k = 65,536 centres per layer; more would be slower than storing the floats
THEORY_KEYS = {"lam", "sigma2", "distortions", "mc_samples"}
# The keys of conf/importance/*.yaml. Each file carries only the keys its estimator uses (so a
# command-line typo fails in Hydra's struct check), but a recipe may set, say, the temperature for
# all estimators it sweeps: an estimator ignores the keys it does not use.
IMPORTANCE_KEYS = {"name", "temperature", "split", "samples", "n_samples", "per_sample", "batch_size",
                   "hessian_estimator", "mu", "normalize"}


class SettingsError(ConfigError):
    """A bad `method=rd` setting (run.py prints it as one line)."""


@dataclass
class Theory:
    """operation=theory (Figure 6): the linear Gaussian model of section 4."""

    lam: List[float] = field(default_factory=lambda: [3.0, 2.0, 1.0])      # Sigma_X = diag(lam)
    sigma2: List[float] = field(default_factory=lambda: [3.0, 2.0, 1.0])   # W ~ N(0, diag(sigma2))
    # where Theorem 3's compressor is checked by Monte Carlo
    distortions: List[float] = field(default_factory=lambda: [1.0, 3.0, 6.0, 9.0, 12.0])
    mc_samples: int = 200000


@dataclass
class RdMethod:
    """The `method:` node of method=rd and its Hydra schema (`rd_schema`): every key and its default
    (conf/method/rd.yaml states none again); the importance estimator is its own group."""

    name: str = MISSING
    family: str = "rd"
    operation: str = "prune"      # prune | quantize | theory (Figure 6: no network is compressed)
    keep: float = 0.1             # prune: the fraction of weights kept in every Linear / Conv2d layer, in (0, 1]
    bits: int = 4                 # quantize: k = 2^bits centres per layer (integer >= 1)
    max_iter: int = 30            # quantize: k-means iterations (fewer if the assignment stops changing)
    cache_importance: bool = True   # reuse an importance estimated with the same settings (beside the baseline)
    figure: Optional[str] = None  # the paper figure a recipe's jobs belong to (report/papers/rd.py)
    theory: Theory = field(default_factory=Theory)
    train_steps: int = 0          # post-training: no training steps

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            _fail(f"method.operation={self.operation}: choose one of {list(OPERATIONS)}")
        check_keep(self.keep)
        check_bits(self.bits)
        if not _is_int(self.max_iter) or self.max_iter < 0:
            _fail(f"method.max_iter={self.max_iter}: must be an integer >= 0")
        theory_settings(vars(self.theory))
        if not _is_int(self.train_steps) or self.train_steps < 0:
            _fail(f"method.train_steps={self.train_steps}: must be an integer >= 0")


@dataclass(frozen=True)
class ImportanceSettings:
    """conf/importance/<name>.yaml, complete (keys an estimator does not use at their defaults)."""

    name: str = "fisher"
    temperature: float = 1.0
    mu: float = 0.0
    hessian_estimator: str = "curvature_propagation"
    per_sample: bool = True
    batch_size: int = 10
    normalize: bool = False
    split: str = "train"
    n_samples: Optional[int] = None  # None: the whole split

    @property
    def uses_data(self) -> bool:
        return self.name != "baseline"


@dataclass(frozen=True)
class RdSettings:
    """The checked settings of a run (its method node and importance), the defaults RdMethod's."""

    operation: str = RdMethod.operation
    keep: float = RdMethod.keep
    bits: int = RdMethod.bits
    max_iter: int = RdMethod.max_iter
    cache_importance: bool = RdMethod.cache_importance
    figure: Optional[str] = RdMethod.figure
    importance: ImportanceSettings = ImportanceSettings()
    theory: Optional[dict] = None  # operation=theory: lam, sigma2, distortions, mc_samples


def _fail(message: str):
    raise SettingsError(message)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_keep(keep) -> float:
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real) or not (0 < keep <= 1):
        _fail(f"method.keep={keep}: the keep-rate must be a number in (0, 1] (the fraction of weights kept)")
    return float(keep)


def check_bits(bits) -> int:
    if not _is_int(bits) or not 1 <= bits <= MAX_BITS:
        _fail(f"method.bits={bits}: bits must be an integer from 1 to {MAX_BITS} (k = 2^bits centres per layer)")
    return int(bits)


def importance_settings(node) -> ImportanceSettings:
    """The `importance` config node, checked (unknown keys, estimator options, split, samples)."""
    raw = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    name = raw.get("name")
    if name not in ESTIMATORS:
        _fail(f"importance={name}: unknown estimator; choose one of {sorted(ESTIMATORS)}")
    unknown = sorted(set(raw) - IMPORTANCE_KEYS)
    if unknown:
        _fail(f"importance ({name}): unknown key(s) {unknown}; valid: {sorted(IMPORTANCE_KEYS)}")
    kwargs = {k: raw[k] for k in ("temperature", "mu", "hessian_estimator", "per_sample", "batch_size",
                                  "normalize", "split", "n_samples") if k in raw}
    s = ImportanceSettings(name=name, **kwargs)
    if s.hessian_estimator not in HESSIAN_ESTIMATORS:
        _fail(f"importance.hessian_estimator={s.hessian_estimator}: choose one of {sorted(HESSIAN_ESTIMATORS)}")
    for key in ("temperature", "mu"):
        v = getattr(s, key)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            _fail(f"importance.{key}={v}: must be a finite number")
    try:
        check_options(name, temperature=float(s.temperature), mu=float(s.mu), hessian_estimator=s.hessian_estimator,
                      per_sample=bool(s.per_sample), batch_size=s.batch_size)
    except ValueError as exc:
        _fail(f"importance ({name}): {exc}")
    if s.split not in SPLITS:
        _fail(f"importance.split={s.split}: choose one of {list(SPLITS)}")
    if s.n_samples is not None and (not _is_int(s.n_samples) or s.n_samples < 1):
        _fail(f"importance.samples: {s.n_samples} is not a positive number of samples (null: the whole split)")
    if not isinstance(s.per_sample, bool) or not isinstance(s.normalize, bool):
        _fail("importance.per_sample and importance.normalize must be true or false")
    return s


def rd_settings(cfg) -> RdSettings:
    """cfg.method (and cfg.importance) as RdSettings; raises SettingsError (a UserError)."""
    m = cfg.method  # a misspelt key on the command line already failed Hydra's struct check
    if m.operation not in OPERATIONS:
        _fail(f"method.operation={m.operation}: choose one of {list(OPERATIONS)}")
    keep, bits = check_keep(m.keep), check_bits(m.bits)
    if not _is_int(m.max_iter) or m.max_iter < 0:
        _fail(f"method.max_iter={m.max_iter}: must be an integer >= 0")
    theory = theory_settings(m.theory) if m.operation == "theory" else None
    if "importance" not in cfg:
        _fail("method=rd needs an importance estimator: importance=" + "|".join(ESTIMATORS))
    figure = m.get("figure")
    return RdSettings(m.operation, keep, bits, int(m.max_iter), bool(m.cache_importance),
                      None if figure is None else str(figure), importance_settings(cfg.importance), theory)


def theory_settings(node) -> dict:
    """method.theory for operation=theory: λ, σ² positive and of one length, distortions > 0."""
    raw = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    unknown = sorted(set(raw) - THEORY_KEYS)
    if unknown:
        _fail(f"method.theory: unknown key(s) {unknown}; valid: {sorted(THEORY_KEYS)}")
    lam, sigma2, dist = list(raw["lam"]), list(raw["sigma2"]), list(raw["distortions"])
    if not lam or len(lam) != len(sigma2) or min(lam + sigma2) <= 0:
        _fail("method.theory: lam and sigma2 must be lists of positive numbers of one length")
    if not dist or min(dist) <= 0:
        _fail("method.theory.distortions must be positive numbers")
    if not _is_int(raw["mc_samples"]) or raw["mc_samples"] < 2:
        _fail("method.theory.mc_samples must be an integer >= 2")
    return raw


def check_start(init_from, operation: str) -> Optional[Path]:
    """The trained network to start from: a run dir or checkpoint that exists (or auto, resolved
    by the task); None only for operation=theory, which compresses no network."""
    if operation == "theory":
        return None if init_from in (None, "auto") else Path(init_from).expanduser()
    if init_from is None:
        _fail("method=rd compresses a trained network: set init_from=auto (its default; the baseline is "
              "trained once) or init_from=<a method=baseline run dir>")
    if init_from in ("auto", "model"):  # resolved by the task (model: the weights the model is built with)
        return None
    path = Path(str(init_from)).expanduser()
    ckpt = path / "checkpoints" / "last.ckpt" if path.is_dir() else path
    if not ckpt.exists():
        _fail(f"init_from={init_from}: no checkpoint at {ckpt} (train one with method=baseline coding=none)")
    return path


def check_config(cfg) -> RdSettings:
    """Everything `method=rd` reads, checked; the start (init_from) too unless it is still auto."""
    s = rd_settings(cfg)
    check_start(cfg.get("init_from"), s.operation)
    return s

