"""PWFN fixing schedule and the sigma regulariser (paper 002; REFERENCE.md §3).

Schedule. After round t exactly ceil(N * p_t) of the N weights are fixed, with

    p = 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 1.0,

strictly increasing, within (0, 1], ending at 1. ceil(N * p) is taken on the decimal value of p
(N = 10, p = 0.7 gives 7, where float arithmetic gives 10 * 0.7 = 7.000000000000001 -> 8).

Regulariser. With eps the noise of the last training forward, the loss gains

    R = (alpha / 2) * sum_i |eps_i| * relu(gamma - sigma_i)^2,      eps held constant,

so dR / d sigma_i = -alpha * relu(gamma - sigma_i) * |eps_i|: every sigma below the cap gamma is
pushed up, harder the further below it is. This is the public code's gradient edit
(grad_sigma -= alpha * relu(0.05 - sigma) * |eps|) written as a loss; public default alpha = 2^-11,
gamma = 0.05. By default only free entries are summed; include_fixed=True also sums fixed ones, as
the public code pushes them (in our layers fixed sigmas do not act, and their gradient is zeroed).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

import torch

DEFAULT_SCHEDULE: tuple[float, ...] = (0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 1.0)
DEFAULT_ALPHA = 2.0**-11
DEFAULT_GAMMA = 0.05


def validate_schedule(schedule: Sequence[float]) -> tuple[float, ...]:
    """The schedule as floats, or a one-line ValueError saying what is wrong with it."""
    values = tuple(float(p) for p in schedule)
    if not values:
        raise ValueError("fixing schedule is empty; it must rise to 1.0, e.g. 0.2, 0.4, ..., 1.0")
    bad = [p for p in values if not 0.0 < p <= 1.0]
    if bad:
        raise ValueError(f"fixing schedule values must lie in (0, 1], got {bad} in {list(values)}")
    for earlier, later in zip(values, values[1:]):
        if later <= earlier:
            raise ValueError(f"fixing schedule must be strictly increasing, got {earlier} then {later} "
                             f"in {list(values)}")
    if values[-1] != 1.0:
        raise ValueError(f"fixing schedule must end at 1.0 (all weights fixed), ends at {values[-1]}")
    return values


def fixed_target(n: int, p: float) -> int:
    """ceil(n * p) with p read as the decimal it prints as (no float round-up)."""
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"fraction to fix must lie in [0, 1], got {p}")
    return min(int(n), math.ceil(Fraction(repr(float(p))) * int(n)))


def fixed_targets(n: int, schedule: Sequence[float]) -> list[int]:
    """ceil(n * p_t) for every round of a validated schedule."""
    return [fixed_target(n, p) for p in validate_schedule(schedule)]


def check_alpha_gamma(alpha: float, gamma: float) -> None:
    """One-line ValueError for a negative (or non-finite) alpha or gamma."""
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha (sigma regulariser strength) must be finite and >= 0, got {alpha}")
    if not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma (sigma cap of the regulariser) must be finite and >= 0, got {gamma}")


def sigma_push_loss(layers: Iterable, alpha: float = DEFAULT_ALPHA, gamma: float = DEFAULT_GAMMA,
                    *, include_fixed: bool = False) -> torch.Tensor:
    """R over the Bayes-by-backprop layers, from the eps each kept from its last training forward."""
    check_alpha_gamma(alpha, gamma)
    total = None
    for layer in layers:
        layer = layer[1] if isinstance(layer, tuple) else layer  # accepts bayesian_layers() pairs too
        for name in layer.posterior_names:
            eps = layer.last_eps.get(name)
            if eps is None:
                raise ValueError(f"{type(layer).__name__} has no noise for '{name}': run a training forward first")
            sigma = layer.sigma(name)
            term = eps.detach().abs() * torch.relu(gamma - sigma) ** 2
            if not include_fixed:
                term = torch.where(layer.fixed(name), torch.zeros_like(term), term)
            total = term.sum() if total is None else total + term.sum()
    if total is None:
        return torch.zeros(())
    return 0.5 * alpha * total
