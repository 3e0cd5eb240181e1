"""Gaussian-mixture prior over weights for soft weight-sharing (Ullrich et al. 2017; paper 001).

Component 0 is pinned at mean 0 with a fixed mixing proportion π0; the other K−1 components
have learned means, log precisions and log mixing proportions (renormalised to 1 − π0).
A Gamma(α, β) hyper-prior on every precision keeps components from collapsing.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class GaussianMixturePrior(nn.Module):
    def __init__(self, weights: torch.Tensor, n_components: int = 17, pi_zero: float = 0.999,
                 gamma_alpha: float = 1e5, gamma_beta: float = 10.0):
        super().__init__()
        if n_components < 2:
            raise ValueError("a mixture prior needs at least 2 components (one pinned at zero)")
        k = n_components
        # Paper 001, Table 3: μ_k = k·Δμ, Δμ = 2·std(w)/K, k = −(K−1)/2 .. (K−1)/2 (k = 0 is the zero
        # component); log λ_k = −2 log(0.9 Δμ); log π_k = log((1 − π0)/K) for k ≠ 0.
        delta = 2.0 * float(weights.detach().std()) / k
        grid = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
        nonzero = grid[grid != 0]
        self.means = nn.Parameter(nonzero * delta)
        self.log_precisions = nn.Parameter(torch.full((k,), -2.0 * math.log(0.9 * delta)))
        self.log_mix = nn.Parameter(torch.full((k - 1,), math.log((1 - pi_zero) / k)))
        self.pi_zero = pi_zero
        self.gamma_alpha, self.gamma_beta = gamma_alpha, gamma_beta

    def components(self):
        """(means [K], precisions [K], mixing proportions [K]) with component 0 at zero."""
        means = torch.cat([self.means.new_zeros(1), self.means])
        rest = torch.softmax(self.log_mix, 0) * (1 - self.pi_zero)
        mix = torch.cat([rest.new_full((1,), self.pi_zero), rest])
        return means, self.log_precisions.exp(), mix

    def log_prob(self, w: torch.Tensor) -> torch.Tensor:
        """log GM(w) per weight."""
        means, prec, mix = self.components()
        d = w.reshape(-1, 1) - means
        log_comp = 0.5 * (torch.log(prec) - math.log(2 * math.pi)) - 0.5 * prec * d**2 + torch.log(mix)
        return torch.logsumexp(log_comp, dim=1).reshape(w.shape)

    def log_hyperprior(self) -> torch.Tensor:
        """Σ log Gamma(λ_k | α, β) over the precisions (rate parameterisation)."""
        a, b = self.gamma_alpha, self.gamma_beta
        lam = self.log_precisions.exp()
        return torch.sum(a * math.log(b) - math.lgamma(a) + (a - 1) * self.log_precisions - b * lam)

    @torch.no_grad()
    def quantise(self, w: torch.Tensor):
        """Each weight to the mean of its most responsible component: (values, component index)."""
        means, prec, mix = self.components()
        d = w.reshape(-1, 1) - means
        resp = 0.5 * torch.log(prec) - 0.5 * prec * d**2 + torch.log(mix)
        idx = resp.argmax(1)
        return means[idx].reshape(w.shape), idx.reshape(w.shape)
