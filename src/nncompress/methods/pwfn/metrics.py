"""Compressibility metrics of PWFN (paper 002): unique values and weight-space entropy.

For the pooled values x_1..x_n of a list of tensors (weights and biases, zeros included), with
n_v the number of entries equal to value v and p_v = n_v / n:

    unique values  U = |{v : n_v > 0}|
    entropy        H = -sum_v p_v log2 p_v   (bits per entry)

-0.0 and +0.0 count as one value; NaN is rejected.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch


def _pooled(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    flat = [t.detach().flatten() for t in tensors]
    if not flat:
        return torch.zeros(0)
    values = torch.cat([t.to(torch.float64) for t in flat])
    if bool(torch.isnan(values).any()):
        raise ValueError("weight tensors contain NaN; unique values and entropy are undefined")
    return values + 0.0  # -0.0 + 0.0 = +0.0, so the two zeros pool together


def value_counts(tensors: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct values (ascending, float64) and how many entries hold each."""
    return torch.unique(_pooled(tensors), sorted=True, return_counts=True)


def unique_values(tensors: Iterable[torch.Tensor]) -> int:
    """Number of distinct values over all tensors pooled."""
    return int(value_counts(tensors)[0].numel())


def unique_values_per_tensor(named: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """Distinct values of each tensor (or group of tensors) on its own, by name."""
    return {name: unique_values(value if isinstance(value, (list, tuple)) else [value])
            for name, value in named.items()}


def weight_entropy_bits(tensors: Iterable[torch.Tensor]) -> float:
    """Shannon entropy in bits of the pooled empirical value distribution (0 for no entries)."""
    _, counts = value_counts(tensors)
    total = int(counts.sum())
    if total == 0:
        return 0.0
    probs = counts.to(torch.float64) / total
    return float(-(probs * torch.log2(probs)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def entropy_from_counts(counts: Iterable[int]) -> float:
    """The same entropy from a list of value counts (for hand checks and reports)."""
    counts = [int(c) for c in counts if int(c) > 0]
    total = sum(counts)
    return 0.0 if total == 0 else -sum(c / total * math.log2(c / total) for c in counts) + 0.0
