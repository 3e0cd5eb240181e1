"""The PWFN centre set: zero and signed sums of a few distinct powers of two (paper 002).

With m = max|mu| over the still-free weights, K = ceil(log2 m) and the power set

    R = {2^-b, 2^(-b+1), ..., 2^(K-1)}          (b = 7 by default),

the order-omega centre set of Algorithm 1 (appendix) is

    C^omega = {0} U {+-sum(r) : r subset of R, 1 <= |r| <= omega, sum(r) <= m},   omega in 1..4.

The sets are nested, C^1 in C^2 in C^3 in C^4; for m = 0.9 they hold 15, 57, 127 and 193 centres.
Every centre is a multiple of 2^-b with at most omega set bits, so it is exact in float32.
"""
from __future__ import annotations

import itertools
import math
import operator
from functools import lru_cache

import torch

MAX_OMEGA = 4


def check_omega(omega: int) -> int:
    """omega as an int in 1..4, else a ValueError."""
    try:
        value = operator.index(omega)
    except TypeError:
        value = None
    if value is None or isinstance(omega, bool) or not 1 <= value <= MAX_OMEGA:
        raise ValueError(f"omega (powers of two per centre) must be an integer in 1..{MAX_OMEGA}, got {omega!r}")
    return value


def ceil_log2(m: float) -> int:
    """ceil(log2 m) for m > 0, exact at powers of two (frexp, not floating log2)."""
    mantissa, exponent = math.frexp(m)  # m = mantissa * 2^exponent, mantissa in [0.5, 1)
    return exponent - 1 if mantissa == 0.5 else exponent


def power_set(m: float, b: int = 7) -> list[float]:
    """R = {2^-b, ..., 2^(ceil(log2 m) - 1)}, ascending; empty when m <= 2^-b (or m = 0)."""
    if not math.isfinite(m) or m < 0:
        raise ValueError(f"m (largest free |mu|) must be finite and >= 0, got {m!r}")
    if m == 0:
        return []
    top = ceil_log2(m) - 1
    return [math.ldexp(1.0, e) for e in range(-b, top + 1)]


@lru_cache(maxsize=256)
def _positive_sums(top_exponent: int, b: int, omega: int) -> tuple[float, ...]:
    """All sums of 1..omega distinct powers 2^-b..2^top_exponent, ascending (unfiltered by m)."""
    powers = [math.ldexp(1.0, e) for e in range(-b, top_exponent + 1)]
    sums = {sum(r) for k in range(1, omega + 1) for r in itertools.combinations(powers, k)}
    return tuple(sorted(sums))


def centre_set(m: float, omega: int, b: int = 7) -> torch.Tensor:
    """C^omega for largest free magnitude m: sorted float64 tensor, symmetric, containing 0."""
    omega = check_omega(omega)
    if not math.isfinite(m) or m < 0:
        raise ValueError(f"m (largest free |mu|) must be finite and >= 0, got {m!r}")
    if m == 0:
        return torch.zeros(1, dtype=torch.float64)
    positive = [s for s in _positive_sums(ceil_log2(m) - 1, int(b), omega) if s <= m]
    values = [-s for s in reversed(positive)] + [0.0] + positive
    return torch.tensor(values, dtype=torch.float64)
