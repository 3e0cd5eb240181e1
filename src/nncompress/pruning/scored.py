"""Post-training pruning by importance score, one keep-rate for every layer (paper 003, section
5.3 Corollary 1 and section 6: "the same compression rate for every convolutional layer and
fully-connected layer", first and last included; no fine-tuning).

Pruning w_i to ŵ_i = 0 costs I_i w_i² + Q_i w_i⁴ in the objective Σ I (w−ŵ)² + Σ Q (w−ŵ)⁴, so each
layer keeps its highest-scoring weights:

    score_i = I_i · w_i²  (+ Q_i · w_i⁴ for grad_hessian, Q = ¼ E[(∂²L/∂w²)²] already holding the ¼)

Per layer of n weights, exactly ⌈keep·n⌉ are kept (keep·n is first rounded to 9 decimals so that
float noise such as 0.07·100 = 7.000000000000001 does not keep an extra weight). Ties in the score
are broken by flat index: the earlier weight is kept. The rate reported is the nonzero fraction
of the pruned weights (weights that were already zero count as zeros).
"""
from __future__ import annotations

import math
import numbers
from typing import Mapping

import torch
from torch import nn


def keep_count(n: int, keep: float) -> int:
    """⌈keep·n⌉ for a keep-rate in (0, 1]."""
    if isinstance(keep, bool) or not (isinstance(keep, numbers.Real) and 0 < keep <= 1):
        raise ValueError(f"keep-rate must be in (0, 1], got {keep}")
    return min(n, math.ceil(round(keep * n, 9)))


def score(weight: torch.Tensor, first: torch.Tensor, quartic: torch.Tensor | None = None) -> torch.Tensor:
    """I·w² (+ Q·w⁴): the objective's cost of setting each weight to zero."""
    w2 = weight.detach() ** 2
    s = first * w2
    return s if quartic is None else s + quartic * w2 * w2


def top_score_mask(scores: torch.Tensor, keep: float) -> torch.Tensor:
    """Boolean mask of the ⌈keep·n⌉ highest scores (ties: lower flat index first)."""
    flat = scores.flatten()
    if torch.isnan(flat).any():
        raise ValueError("pruning scores contain NaN")
    order = torch.sort(flat, descending=True, stable=True).indices  # stable: equal scores keep index order
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[order[:keep_count(flat.numel(), keep)]] = True
    return mask.view(scores.shape)


def prune_masks(weights: Mapping[str, torch.Tensor], first: Mapping[str, torch.Tensor], keep: float,
                quartic: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """{name: keep-mask} for every weight in `weights`, the same keep-rate in each."""
    keep_count(1, keep)  # fail on a bad rate before any work
    missing = [k for k in weights if k not in first or (quartic is not None and k not in quartic)]
    if missing:
        raise ValueError(f"no importance for {missing}")
    return {k: top_score_mask(score(w, first[k], None if quartic is None else quartic[k]), keep)
            for k, w in weights.items()}


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> float:
    """Zero the pruned weights of `model` in place; returns their nonzero fraction."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, m in masks.items():
            params[k].mul_(m.to(params[k].dtype))
    return nonzero_fraction({k: params[k] for k in masks})


def nonzero_fraction(weights: Mapping[str, torch.Tensor]) -> float:
    """Nonzero weights over all weights of the given tensors."""
    total = sum(w.numel() for w in weights.values())
    if total == 0:
        raise ValueError("no weights to count")
    return sum(int(torch.count_nonzero(w)) for w in weights.values()) / total
