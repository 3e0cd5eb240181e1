"""Principal branch of Lambert W on [-1/e, 0], the range the Mean-KL parameterisation reaches.

Paper 000 (appendix B) uses the Padé [3/2] approximant in t = sqrt(2 e x + 2). Its
denominator constant must be 1 (the extracted text prints 2, which gives W(-1/e) = -1/2 instead
of -1 and W(e) = 0.885 instead of 1). The approximant is accurate near the branch point but
crosses zero near x = -3e-5 and would give a negative variance there, so for x > -0.135 the
fifth-order Taylor series at 0 is used instead (worst relative error of the pair ~6e-4, at
the switch). `halley_steps` refines either to machine precision.
"""
from __future__ import annotations

import math

import torch

SWITCH = -0.135


def _pade(x: torch.Tensor) -> torch.Tensor:
    t = torch.sqrt(torch.clamp(2.0 * math.e * x + 2.0, min=0.0))
    num = ((13.0 / 720.0 * t + 257.0 / 720.0) * t + 1.0 / 6.0) * t - 1.0
    den = (103.0 / 720.0 * t + 5.0 / 6.0) * t + 1.0
    return num / den


def _series(x: torch.Tensor) -> torch.Tensor:
    # W(x) = x - x^2 + 3/2 x^3 - 8/3 x^4 + 125/24 x^5 + O(x^6)
    return x * (1.0 + x * (-1.0 + x * (1.5 + x * (-8.0 / 3.0 + x * 125.0 / 24.0))))


def _halley(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    ew = torch.exp(w)
    f = w * ew - x
    wp1 = torch.clamp(w + 1.0, min=1e-12)
    return w - f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))


def lambertw(x: torch.Tensor, halley_steps: int = 0) -> torch.Tensor:
    """W_0(x) for x in [-1/e, 0]; differentiable."""
    w = torch.where(x < SWITCH, _pade(x), _series(torch.clamp(x, min=SWITCH)))
    for _ in range(halley_steps):
        w = torch.clamp(_halley(w, x), min=-1.0, max=0.0)
    return w
