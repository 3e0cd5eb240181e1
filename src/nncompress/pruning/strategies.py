"""Which coded weights to set to zero first: small, functional pruning orders.

Each strategy returns an order over all coded variables (first = pruned first); pruning a
fraction f zeroes the first round(f * n) of it, so larger fractions prune supersets.

- random:    a seeded uniform permutation;
- magnitude: smallest |w| of the compressed sample first;
- kl:        highest posterior density at zero first, argmax_i log N(0 | mu_i, sigma_i^2),
             i.e. smallest log sigma_i + mu_i^2 / (2 sigma_i^2) (paper 000, appendix A).
"""
from __future__ import annotations

import torch

STRATEGIES = ("random", "magnitude", "kl")


def kl_score(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """-log N(0 | mu, sigma^2) up to a constant: prune the smallest first."""
    return torch.log(sigma) + mu**2 / (2 * sigma**2)


def prune_order(strategy: str, sample: torch.Tensor, mu=None, sigma=None, seed: int = 0) -> torch.Tensor:
    if strategy == "random":
        return torch.randperm(sample.numel(), generator=torch.Generator().manual_seed(seed))
    if strategy == "magnitude":
        return torch.argsort(sample.abs().cpu(), stable=True)
    if strategy == "kl":
        if mu is None or sigma is None:
            raise ValueError("kl pruning needs the posterior the sample was coded from (mu, sigma)")
        return torch.argsort(kl_score(mu.double().cpu(), sigma.double().cpu()), stable=True)
    raise ValueError(f"unknown pruning strategy '{strategy}'; choose one of {STRATEGIES}")


def n_pruned(fraction: float, n: int) -> int:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"pruning fraction must be in [0, 1], got {fraction}")
    return int(round(fraction * n))


def prune(sample: torch.Tensor, order: torch.Tensor, fraction: float) -> torch.Tensor:
    """A copy of `sample` with the first round(fraction * n) variables of `order` set to zero."""
    out = sample.clone()
    out[order[: n_pruned(fraction, sample.numel())].to(sample.device)] = 0
    return out
