"""What a PWFN fixing round returns (paper 002, Algorithm 1 of the appendix and the public code's
variant) and the input checks both variants share.

Notation: N weights pooled over all layers, means mu_i, sigmas sigma_i, D_prob as in distance.py,
C^omega the centre sets of centres.py with m = max|mu| over the free weights, p_t the schedule.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch

from nncompress.methods.pwfn.centres import check_omega


@dataclass
class FixingReport:
    """What one round did."""
    variant: str
    target: int            # ceil(N p_t), the number fixed after the round
    fixed_before: int
    fixed_after: int
    picks: int             # centre groups fixed (Algorithm 1: passes of the outer loop)
    omega: int             # highest omega a pick used (appendix) / omega reached (public); 0: no pick
    delta: float           # delta reached at the end of the round
    centres: list[float] = field(default_factory=list)  # distinct centres picked this round

    def as_dict(self) -> dict:
        return asdict(self)


class FixingResult(NamedTuple):
    mu: torch.Tensor       # flat, input dtype: fixed entries hold their centre
    sigma: torch.Tensor    # flat, input dtype: fixed entries hold their group's spread
    fixed: torch.Tensor    # flat bool
    report: FixingReport


def check_inputs(mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor | None, p: float,
                  delta0: float, delta_growth: float, max_omega: int) -> None:
    if mu.shape != sigma.shape or (fixed is not None and fixed.shape != mu.shape):
        raise ValueError(f"mu, sigma and fixed must have one shape, got {tuple(mu.shape)}, "
                         f"{tuple(sigma.shape)}, {None if fixed is None else tuple(fixed.shape)}")
    if not bool(torch.isfinite(mu).all()) or not bool(torch.isfinite(sigma).all()):
        raise ValueError("mu and sigma must be finite to be fixed")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"fraction to fix must lie in [0, 1], got {p}")
    if not (math.isfinite(delta0) and delta0 > 0):
        raise ValueError(f"delta0 must be finite and > 0, got {delta0}")
    if not (math.isfinite(delta_growth) and delta_growth > 1):
        raise ValueError(f"delta_growth must be finite and > 1, got {delta_growth}")
    check_omega(max_omega)


