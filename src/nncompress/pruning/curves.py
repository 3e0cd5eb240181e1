"""Accuracy of a compressed sample as more of its weights are set to zero (paper 000, Figure 3).

Acts on the decoded sample (never the means) and, for `kl`, on the posterior each variable was
coded from. Random orders are averaged over `repeats` seeded permutations.
"""
from __future__ import annotations

import numpy as np

from nncompress.core.evaluation import test_error
from nncompress.pruning.strategies import STRATEGIES, prune, prune_order


def fractions(start: float, stop: float, step: float) -> list:
    """start, start + step, ..., stop (rounded so that 0.1 * 3 prints as 0.3)."""
    n = int(round((stop - start) / step))
    return [round(start + i * step, 10) for i in range(n + 1)]


def accuracy_curves(network, sample, mu, sigma, loader, strategies, grid: list, repeats: int = 1,
                    seed: int = 0) -> dict:
    """{"fractions": grid, strategy: {"accuracy": [...], "accuracy_repeats": [[...]]}}, in percent.

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
        out[strategy] = {"accuracy": np.mean(acc, axis=0).tolist(), "accuracy_repeats": acc}
    return out
