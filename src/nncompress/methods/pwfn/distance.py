"""The probabilistic distance of PWFN (paper 002, Algorithm 1 of the appendix).

    D_prob(w, c) = |c - mu_w| / max(sigma_w, 2^-20)

the number of posterior standard deviations between weight w's mean and centre c. The floor keeps
fixed weights (sigma = spread of their group, possibly 0) and vanishing sigmas finite. Because
sigma_w is per weight, the centre nearest to w under D_prob is its nearest centre by value.
"""
from __future__ import annotations

import torch

SIGMA_FLOOR = 2.0**-20


def floored_sigma(sigma: torch.Tensor) -> torch.Tensor:
    """max(sigma, 2^-20), the denominator of D_prob."""
    return sigma.clamp_min(SIGMA_FLOOR)


def prob_distance(mu: torch.Tensor, sigma: torch.Tensor, centre: torch.Tensor | float) -> torch.Tensor:
    """D_prob of each weight (mu, sigma) to centre(s) c, broadcast elementwise."""
    return (torch.as_tensor(centre, dtype=mu.dtype) - mu).abs() / floored_sigma(sigma)
