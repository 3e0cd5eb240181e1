"""Initial posterior standard deviations of PWFN (paper 002, appendix eq. 8-9).

For a weight mean mu != 0, with pow2_up(mu) = sign(mu) 2^ceil(log2|mu|),
pow2_down(mu) = sign(mu) 2^floor(log2|mu|) and D_rel(mu, p) = |(mu - p) / mu|:

    v(mu)  = D_rel(mu, pow2_up(mu)) * D_rel(mu, pow2_down(mu))
    f(mu)  = 0.0025 * v(mu) / q_0.75                                   (eq. 8)
    sigma  = min(max(f(mu), 2^-30), 0.05)                              (eq. 9, corrected)

Reading of eq. 8. The prose names v = D_rel(mu, pow2_u(mu)) alone and "re-weights by its third
quartile"; the printed formula divides the *product* of the two relative distances by that quartile.
We take the numerator to be the product (as printed) and, by default, the denominator to be the 0.75
quantile of the same product over the tensor (quantile_of="product"), which is what the authors'
public code computes and what REFERENCE.md §3 states; then the weight at the third quartile gets
sigma = 0.0025 exactly. quantile_of="up" takes the prose literally (quartile of D_rel(mu, pow2_up)).
Eq. 9 as printed, max(0.1, min(f, 2^-30)), is a typo: it would be 0.1 for every weight; the prose
("clamp the values to be within [2^-30, 0.05]") and the public code clamp to [2^-30, 0.05].

Special values (the public code returns NaN for a whole tensor containing mu = 0):
- exact powers of two: pow2_up = pow2_down = mu, v = 0, so sigma = 2^-30 (the floor), as in the
  public code: the weight already sits on a centre. They enter the quantile as zeros.
- mu = 0: D_rel is 0/0. It gets `zero_sigma` (default the cap 0.05): every sigma > 0 is infinitely
  many |mu| wide there, as the formula gives near zero (sigma >> |mu| as mu -> 0), and the fixing
  is unaffected either way since D_prob(0, centre 0) = 0. Zeros are left out of the quantile.
- a quantile of 0 (three quarters of the tensor powers of two): v > 0 gives the cap, v = 0 the floor.
Powers of two come from frexp, so they are exact (no floating log2 at a power's edge).
"""
from __future__ import annotations

import torch

SIGMA_MIN = 2.0**-30
SIGMA_MAX = 0.05
SCALE = 0.0025
QUANTILE = 0.75


def _exponents(mu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """floor(log2|mu|) and ceil(log2|mu|), exact, for mu != 0 (garbage at 0)."""
    mantissa, exponent = torch.frexp(mu.abs())  # |mu| = mantissa * 2^exponent, mantissa in [0.5, 1)
    floor_exp = exponent - 1
    ceil_exp = torch.where(mantissa == 0.5, floor_exp, exponent)
    return floor_exp, ceil_exp


def pow2_up(mu: torch.Tensor) -> torch.Tensor:
    """sign(mu) 2^ceil(log2|mu|); 0 at mu = 0."""
    _, ceil_exp = _exponents(mu)
    return torch.sign(mu) * torch.ldexp(torch.ones_like(mu), ceil_exp)


def pow2_down(mu: torch.Tensor) -> torch.Tensor:
    """sign(mu) 2^floor(log2|mu|); 0 at mu = 0."""
    floor_exp, _ = _exponents(mu)
    return torch.sign(mu) * torch.ldexp(torch.ones_like(mu), floor_exp)


def relative_distance(mu: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """D_rel(mu, p) = |(mu - p) / mu|; undefined (NaN) at mu = 0, which callers mask."""
    return ((mu - p) / mu).abs()


def quantile(values: torch.Tensor, q: float) -> float:
    """Linear-interpolation quantile (the numpy/torch default) of a tensor's entries, any size.

    Two selections (kthvalue) instead of torch.quantile, which refuses more than 2^24 entries.
    """
    flat = values.flatten()
    position = q * (flat.numel() - 1)
    lower = int(position)
    upper = min(lower + 1, flat.numel() - 1)
    low_value = float(torch.kthvalue(flat, lower + 1).values)
    high_value = float(torch.kthvalue(flat, upper + 1).values) if upper != lower else low_value
    return low_value + (position - lower) * (high_value - low_value)


def init_sigma(mu: torch.Tensor, *, scale: float = SCALE, q: float = QUANTILE,
               sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
               zero_sigma: float | None = None, quantile_of: str = "product") -> torch.Tensor:
    """Eq. 8-9 for one tensor of means: sigma of the same shape and dtype, never NaN."""
    if quantile_of not in ("product", "up"):
        raise ValueError(f"quantile_of must be 'product' or 'up', got {quantile_of!r}")
    if not 0.0 < sigma_min <= sigma_max:
        raise ValueError(f"need 0 < sigma_min <= sigma_max, got {sigma_min}, {sigma_max}")
    zero_value = sigma_max if zero_sigma is None else float(zero_sigma)
    if zero_value < 0:
        raise ValueError(f"zero_sigma must be >= 0, got {zero_sigma}")
    mu64 = mu.detach().to(torch.float64)
    nonzero = mu64 != 0
    safe_mu = torch.where(nonzero, mu64, torch.ones_like(mu64))  # no 0/0 NaN anywhere
    rel_up = relative_distance(safe_mu, pow2_up(safe_mu))
    product = rel_up * relative_distance(safe_mu, pow2_down(safe_mu))
    if not bool(nonzero.any()):
        return torch.full_like(mu, zero_value)
    reference = product if quantile_of == "product" else rel_up
    q_value = quantile(reference[nonzero], q)
    # product = 0 (exact powers of two) stays 0 even when the quantile is 0 (no 0/0).
    f = torch.where(product == 0, torch.zeros_like(product), scale * product / q_value)
    sigma = f.clamp(sigma_min, sigma_max)
    sigma = torch.where(nonzero, sigma, torch.full_like(sigma, zero_value))
    return sigma.to(mu.dtype)
