"""The importance of a baseline's weights for `method=rd`, estimated once per setting and cached.

A sweep over keep-rates or bits with one estimator reuses one estimate: it is stored beside the
baseline it was computed for, `<baseline run dir>/importance/<key>.pt`, the key naming every
setting that changes the estimate (estimator, T, Hessian estimator, per-sample or mini-batch,
normalisation, split, sample count, and the probe seed for the stochastic Hessian estimators).
μ is not in the key: it is added after loading (it is added after the estimate anyway, see
importance.estimators), so Figure 12's μ grid shares one Hessian estimate. The file also holds
the SHA-256 of the baseline's weights; an estimate of other weights (a retrained baseline) is
ignored and recomputed. Files are written to a temporary name and renamed, so a killed job
leaves no half-written cache.

Data: the first `n_samples` rows of the chosen split (`train` by default: the training images
that remain after the validation hold-out, 55,000 for MNIST), in their stored order; `fisher`
reads the images only.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import torch
from torch import nn

from nncompress.core.errors import UserError
from nncompress.importance import Importance, estimate_importance, target_layers
from nncompress.methods.rd.settings import ImportanceSettings

log = logging.getLogger(__name__)
STOCHASTIC = ("curvature_propagation", "hutchinson")  # probe noise: the seed changes the estimate
CHUNK = 1000  # rows per batch handed to the estimator


@dataclass
class Estimate:
    importance: Importance
    seconds: float       # of the estimate itself (the original computation when cached)
    cached: bool
    n_samples: int


def uses_hessian(name: str) -> bool:
    return name in ("hessian", "grad_hessian")


def cache_key(s: ImportanceSettings, seed: int) -> str:
    """A file name naming every setting that changes the estimate (μ excluded)."""
    parts = [s.name, f"T{s.temperature:g}"]
    if s.name in ("gradient", "grad_hessian"):
        parts.append("per-sample" if s.per_sample else f"minibatch{s.batch_size}")
    if uses_hessian(s.name):
        parts.append(s.hessian_estimator)
        if s.hessian_estimator in STOCHASTIC:
            parts.append(f"seed{seed}")
    if s.name == "hessian":
        parts.append("normalized" if s.normalize else "raw")
    parts += [s.split, "all" if s.n_samples is None else f"n{s.n_samples}"]
    return "_".join(parts)


def weights_digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, m in target_layers(model).items():
        h.update(name.encode())
        h.update(m.weight.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def split_tensors(dm, split: str, limit: Optional[int] = None) -> tuple:
    """The split's inputs and labels as tensors; a streamed data set (ImageFolder) gives its
    first `limit` examples in loader order (the training loader's order is seeded)."""
    if not getattr(dm, "in_memory", True):
        loader = {"train": dm.train_dataloader, "val": dm.val_dataloader, "test": dm.test_dataloader}[split]()
        xs, ys, n = [], [], 0
        for x, y in loader:
            xs.append(x)
            ys.append(y)
            n += len(y)
            if limit is not None and n >= limit:
                break
        if not xs:
            raise UserError(f"importance.split={split}: the data set has no {split} rows")
        return torch.cat(xs), torch.cat(ys)
    x, y = {"train": (dm.x_train, dm.y_train), "val": (dm.x_val, dm.y_val),
            "test": (dm.x_test, dm.y_test)}[split]
    if x is None or len(x) == 0:
        raise UserError(f"importance.split={split}: the data set has no {split} rows")
    return x, y


def batches(x: torch.Tensor, y: Optional[torch.Tensor], n: int) -> Iterator[tuple]:
    for i in range(0, n, CHUNK):
        j = min(i + CHUNK, n)
        yield (x[i:j],) if y is None else (x[i:j], y[i:j])


def compute(model: nn.Module, dm, s: ImportanceSettings, seed: int) -> Estimate:
    """Estimate without μ (added by `with_mu`); `fisher` sees no labels."""
    if not s.uses_data:
        return Estimate(estimate_importance("baseline", model, ()), 0.0, False, 0)
    x, y = split_tensors(dm, s.split, None if s.n_samples is None else int(s.n_samples))
    n = len(x) if s.n_samples is None else min(int(s.n_samples), len(x))
    options = dict(temperature=float(s.temperature), seed=int(seed))
    if s.name in ("gradient", "grad_hessian"):
        options.update(per_sample=s.per_sample, batch_size=int(s.batch_size))
    if uses_hessian(s.name):
        options["hessian_estimator"] = s.hessian_estimator
    if s.name == "hessian":
        options["normalize"] = s.normalize
    start = time.perf_counter()
    imp = estimate_importance(s.name, model, batches(x, None if s.name == "fisher" else y, n), **options)
    if torch.device(dm.device).type == "cuda":
        torch.cuda.synchronize()
    return Estimate(imp, time.perf_counter() - start, False, imp.n_samples)


def with_mu(est: Estimate, s: ImportanceSettings) -> Estimate:
    if s.name != "hessian" or s.mu == 0:
        return est
    imp = est.importance
    first = {k: v + float(s.mu) for k, v in imp.first.items()}
    return Estimate(Importance(first, imp.quartic, imp.n_samples), est.seconds, est.cached, est.n_samples)


def cache_dir(init_from: Optional[Path]) -> Optional[Path]:
    if init_from is None:
        return None
    path = Path(init_from).expanduser()
    # a checkpoint file run/checkpoints/last.ckpt: the run dir
    return (path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
            ) / "importance"


def _load(path: Path, digest: str, device) -> Optional[Estimate]:
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # unreadable: recompute (and overwrite)
        log.warning("ignoring unreadable importance cache %s: %s", path, exc)
        return None
    if blob.get("weights_sha256") != digest:
        log.info("importance cache %s belongs to other weights; recomputing", path)
        return None
    imp = Importance(blob["first"], blob.get("quartic"), int(blob["n_samples"]))
    return Estimate(imp, float(blob["seconds"]), True, int(blob["n_samples"]))


def _save(path: Path, est: Estimate, digest: str) -> None:
    imp = est.importance
    blob = {"first": {k: v.cpu() for k, v in imp.first.items()},
            "quartic": None if imp.quartic is None else {k: v.cpu() for k, v in imp.quartic.items()},
            "n_samples": imp.n_samples, "seconds": est.seconds, "weights_sha256": digest}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(blob, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only baseline dir: no cache, same result
        log.warning("could not cache the importance in %s: %s", path, exc)


def importance_for(model: nn.Module, dm, s: ImportanceSettings, seed: int, init_from: Optional[Path],
                   use_cache: bool = True) -> Estimate:
    """The importance of `model`'s weights under settings `s` (μ added), from the cache if it holds it."""
    folder = cache_dir(init_from) if use_cache and s.uses_data else None
    if folder is None:
        return with_mu(compute(model, dm, s, seed), s)
    path = folder / f"{cache_key(s, seed)}.pt"
    digest = weights_digest(model)
    est = _load(path, digest, next(model.parameters()).device) if path.exists() else None
    if est is None:
        est = compute(model, dm, s, seed)
        _save(path, est, digest)
    return with_mu(est, s)
