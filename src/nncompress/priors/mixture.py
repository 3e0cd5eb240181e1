"""Gaussian-mixture prior over weights for soft weight-sharing (Ullrich et al. 2017; paper 001).

Component 0 is pinned at mean 0 with a fixed mixing proportion π0; the other K−1 components
have learned means, log precisions and log mixing proportions (renormalised to 1 − π0).
A Gamma(α, β) hyper-prior on every precision keeps components from collapsing; the zero
component may have its own (α0, β0), as in Ullrich et al.'s soft weight-sharing.

The training objective needs Σ_i −log GM(w_i) over every weight (266k for LeNet-300-100) and
all K components each step. `neg_log_likelihood` computes it with its gradients in one chunked
pass, so the [n_weights, K] intermediates never exist whole: plain autograd over them is
memory-bound and made a CPU training step ~5x slower than the network itself.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

INITS = ("table3", "range")


class GaussianMixturePrior(nn.Module):
    def __init__(self, weights: torch.Tensor, n_components: int = 17, pi_zero: float = 0.999,
                 gamma_alpha: float = 1e5, gamma_beta: float = 10.0, gamma_alpha_zero: Optional[float] = None,
                 gamma_beta_zero: Optional[float] = None, init: str = "table3", init_sigma: float = 0.25):
        super().__init__()
        if n_components < 2:
            raise ValueError("a mixture prior needs at least 2 components (one pinned at zero)")
        if init not in INITS:
            raise ValueError(f"unknown mixture init '{init}'; choose one of {INITS}")
        k = n_components
        w = weights.detach().float()
        if init == "table3":
            # Paper 001, Table 3: μ_k = k·Δμ, Δμ = 2·std(w)/K, k = −(K−1)/2 .. (K−1)/2 (k = 0 is the
            # zero component); log λ_k = −2 log(0.9 Δμ); log π_k = log((1 − π0)/K) for k ≠ 0.
            delta = 2.0 * float(w.std()) / k
            grid = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
            means = grid[grid != 0] * delta
            log_precision = -2.0 * math.log(0.9 * delta)
        else:
            # Ullrich et al. 2017: the K−1 free means evenly over the range of the pretrained
            # weights, every component (the zero one too) as wide as init_sigma.
            means = torch.linspace(float(w.min()), float(w.max()), k - 1)
            log_precision = -2.0 * math.log(init_sigma)
        self.means = nn.Parameter(means)
        self.log_precisions = nn.Parameter(torch.full((k,), log_precision))
        self.log_mix = nn.Parameter(torch.full((k - 1,), math.log((1 - pi_zero) / k)))
        self.pi_zero = pi_zero
        # Gamma shape and rate per component; the zero component's default to the others'.
        alpha = torch.full((k,), float(gamma_alpha), dtype=torch.float64)
        beta = torch.full((k,), float(gamma_beta), dtype=torch.float64)
        alpha[0] = gamma_alpha if gamma_alpha_zero is None else gamma_alpha_zero
        beta[0] = gamma_beta if gamma_beta_zero is None else gamma_beta_zero
        self.register_buffer("gamma_alpha", alpha, persistent=False)
        self.register_buffer("gamma_beta", beta, persistent=False)

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

    def log_proportions(self) -> torch.Tensor:
        """log π_k for all K components (component 0 first)."""
        rest = torch.log_softmax(self.log_mix, 0) + math.log(1 - self.pi_zero)
        return torch.cat([rest.new_full((1,), math.log(self.pi_zero)), rest])

    def neg_log_likelihood(self, w: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
        """Σ_i −log GM(w_i), differentiable in w and the mixture parameters (first order only)."""
        means = torch.cat([self.means.new_zeros(1), self.means])
        return _MixtureNLL.apply(w.reshape(-1), means, self.log_precisions, self.log_proportions(), chunk)

    def log_hyperprior(self) -> torch.Tensor:
        """Σ log Gamma(λ_k | α_k, β_k) over the precisions (rate parameterisation)."""
        a, b, log_lam = self.gamma_alpha.double(), self.gamma_beta.double(), self.log_precisions.double()
        # float64: the terms are ~1e6 and cancel to ~1e3 (shape α = 1e5)
        total = torch.sum(a * torch.log(b) - torch.lgamma(a) + (a - 1) * log_lam - b * log_lam.exp())
        return total.to(self.log_precisions.dtype)

    @torch.no_grad()
    def quantise(self, w: torch.Tensor):
        """Each weight to the mean of its most responsible component: (values, component index)."""
        means, prec, mix = self.components()
        d = w.reshape(-1, 1) - means
        resp = 0.5 * torch.log(prec) - 0.5 * prec * d**2 + torch.log(mix)
        idx = resp.argmax(1)
        return means[idx].reshape(w.shape), idx.reshape(w.shape)


class _MixtureNLL(torch.autograd.Function):
    """Σ_i −log Σ_k π_k N(w_i | μ_k, 1/λ_k) and, in the same pass, its gradients:
    with responsibilities r_ik and d_ik = w_i − μ_k,
        ∂/∂w_i = Σ_k r_ik λ_k d_ik         ∂/∂μ_k = −λ_k Σ_i r_ik d_ik
        ∂/∂log λ_k = −Σ_i r_ik (1 − λ_k d_ik²)/2        ∂/∂log π_k = −Σ_i r_ik
    """

    @staticmethod
    def forward(ctx, w, means, log_prec, log_mix, chunk):
        prec = log_prec.exp()
        offset = 0.5 * (log_prec - math.log(2 * math.pi)) + log_mix  # [K]
        total = torch.zeros((), dtype=torch.float64, device=w.device)
        grad_w = torch.empty_like(w)
        sums = torch.zeros(3, len(means), dtype=torch.float64, device=w.device)  # Σr, Σr·d, Σr·d²
        # [K, c] blocks: the reductions over components then run along rows of contiguous memory.
        for start in range(0, w.numel(), chunk):
            d = w[None, start : start + chunk] - means[:, None]
            t = offset[:, None] - 0.5 * prec[:, None] * d * d
            peak = t.amax(0)
            e = torch.exp(t - peak)
            norm = e.sum(0)
            total += (peak + torch.log(norm)).sum(dtype=torch.float64)
            r = e / norm
            rd = r * d
            grad_w[start : start + chunk] = prec @ rd
            sums += torch.stack([r.sum(1), rd.sum(1), (rd * d).sum(1)]).double()
        sum_r, sum_rd, sum_rdd = sums.to(w.dtype)
        ctx.save_for_backward(grad_w, -prec * sum_rd, -0.5 * (sum_r - prec * sum_rdd), -sum_r)
        return (-total).to(w.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        return (*(grad * g for g in ctx.saved_tensors), None)
