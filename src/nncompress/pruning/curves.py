"""Accuracy of a compressed sample as more of its weights are set to zero (paper 000, Figure 3).

Acts on the decoded sample (never the means) and, for `kl`, on the posterior each variable was
coded from. Random orders are averaged over `repeats` seeded permutations.

pruning.json in a run dir holds one curve per strategy, each with the settings it was computed
with; `update_curves_file` adds or replaces the strategies just computed and keeps the others.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from nncompress.core.errors import UserError
from nncompress.core.evaluation import test_error
from nncompress.core.results import write_results
from nncompress.pruning.strategies import STRATEGIES, prune, prune_order

log = logging.getLogger(__name__)


def fractions(start: float, stop: float, step: float) -> list:
    """start, start + step, ..., stop (rounded so that 0.1 * 3 prints as 0.3)."""
    n = int(round((stop - start) / step))
    return [round(start + i * step, 10) for i in range(n + 1)]


def accuracy_curves(network, sample, mu, sigma, loader, strategies, grid: list, repeats: int = 1,
                    seed: int = 0) -> dict:
    """{"fractions": grid, strategy: {"accuracy": [...], "accuracy_repeats": [[...]], "fractions": grid,
    "repeats": n, "seed": s}}, accuracies in percent. Each curve carries its own settings: `repeats`
    is how many orders were averaged (1 for the deterministic orders), `seed` that of the first
    random order (None for the deterministic ones).

    `network(x, weights)` evaluates a coded vector; sample, mu, sigma are per coded variable.
    """
    out = {"fractions": list(grid)}
    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown pruning strategy '{strategy}'; choose from {STRATEGIES}")
        acc = []
        for r in range(int(repeats) if strategy == "random" else 1):
            order = prune_order(strategy, sample, mu, sigma, seed=int(seed) + r)
            acc.append([100.0 - test_error(network, prune(sample, order, f), loader) for f in grid])
        out[strategy] = {"accuracy": np.mean(acc, axis=0).tolist(), "accuracy_repeats": acc, "fractions": list(grid),
                         "repeats": len(acc), "seed": int(seed) if strategy == "random" else None}
    return out


def merge_curves(old: dict | None, new: dict, weights_sha256: str | None = None) -> dict:
    """The curves of `old` (a pruning.json) with those of `new` added or replacing their own strategy.

    New curves are stamped with `weights_sha256`, the sample they were measured on; an old curve of
    another sample (the run's file was written again since) is dropped, with a warning, as it no
    longer describes the run. Curves of an older file without per-curve settings get its shared
    grid. The top-level "fractions" stays while every curve has the same grid, and is left out
    when they differ (each curve's own "fractions" then says where it was measured)."""
    curves = {}
    for name, curve in (old or {}).items():
        if name == "fractions" or not isinstance(curve, dict):
            continue
        if "fractions" not in curve and "fractions" in old:
            curve = {**curve, "fractions": old["fractions"]}
        stale = weights_sha256 and curve.get("weights_sha256") not in (None, weights_sha256)
        if stale and name not in new:
            log.warning("pruning curve '%s' dropped: it was measured on another sample than this run's file", name)
        if not stale:
            curves[name] = curve
    for name, curve in new.items():
        if name != "fractions":
            curves[name] = {**curve, **({"weights_sha256": weights_sha256} if weights_sha256 else {})}
    grids = [c.get("fractions") for c in curves.values()]
    shared = grids[0] if grids and all(g == grids[0] for g in grids) else None
    return {**({"fractions": shared} if shared is not None else {}), **curves}


def update_curves_file(run_dir, new: dict, weights_sha256: str | None = None) -> Path:
    """Merge `new` into run_dir/pruning.json (`merge_curves`) and write it atomically."""
    path = Path(run_dir) / "pruning.json"
    old = None
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError as exc:
            old = exc
        if not isinstance(old, dict):
            raise UserError(f"{path} is not a pruning.json ({old}); move it away to compute its curves again")
    return write_results(path.parent, merge_curves(old, new, weights_sha256), name=path.name)
