"""Gaussian-mixture prior over weights for soft weight-sharing (Ullrich et al. 2017; paper 001).

Component 0 is pinned at mean 0 with a fixed mixing proportion π0; the other K−1 components
have learned means, log precisions and log mixing proportions (renormalised to 1 − π0).
A Gamma(α, β) hyper-prior on every precision keeps components from collapsing; the zero
component may have its own (α0, β0), as in Ullrich et al.'s soft weight-sharing.

The training objective needs Σ_i −log GM(w_i) over every weight (266k for LeNet-300-100) and
all K components each step. `neg_log_likelihood` computes it with its gradients in one pass
(`mixture_nll`): plain autograd over the [n_weights, K] intermediates is memory-bound and made a
CPU training step ~5x slower than the network itself. Its kernel ("auto" by default) is the eager,
chunked one for the first COMPILE_AFTER calls and then, for large priors, the torch.compile'd one
(the same numbers to float32 rounding, ~4x faster); NNCOMPRESS_MIXTURE_KERNEL=eager|compiled
overrides "auto".
"""
from __future__ import annotations

import math
import os
from typing import Optional

import torch
from torch import nn

from nncompress.priors.mixture_nll import CHUNK, MixtureNLL, pick

INITS = ("table3", "range")
KERNELS = ("auto", "eager", "compiled")
# "auto" compiles after this many calls, and only for at least MIN_PAIRS weight-component pairs:
# a compile costs 10-60 s of CPU, which only a run of many steps over a large network earns back
# (tests, smoke runs and small priors stay eager).
COMPILE_AFTER = 50
MIN_PAIRS = 1 << 20
KERNEL_ENV = "NNCOMPRESS_MIXTURE_KERNEL"


class GaussianMixturePrior(nn.Module):
    def __init__(self, weights: torch.Tensor, n_components: int = 17, pi_zero: float = 0.999,
                 gamma_alpha: float = 1e5, gamma_beta: float = 10.0, gamma_alpha_zero: Optional[float] = None,
                 gamma_beta_zero: Optional[float] = None, init: str = "table3", init_sigma: float = 0.25,
                 kernel: str = "auto"):
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"unknown mixture kernel '{kernel}'; choose one of {KERNELS}")
        self.kernel, self.chunk, self.calls = kernel, CHUNK, 0
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

    def neg_log_likelihood(self, w: torch.Tensor, chunk: Optional[int] = None,
                           kernel: Optional[str] = None) -> torch.Tensor:
        """Σ_i −log GM(w_i), differentiable in w and the mixture parameters (first order only).
        kernel: "eager" (chunked, `chunk` weights a block), "compiled" or "auto" (self.kernel)."""
        means = torch.cat([self.means.new_zeros(1), self.means])
        moments = pick(self.choose_kernel(w.numel() * len(means), kernel), chunk or self.chunk)
        return MixtureNLL.apply(w.reshape(-1), means, self.log_precisions, self.log_proportions(), moments)

    def choose_kernel(self, pairs: int, kernel: Optional[str] = None) -> str:
        """The kernel of this call, eager or compiled (see the module docstring); counts the call."""
        self.calls += 1
        kernel = kernel or self.kernel
        if kernel == "auto":
            kernel = os.environ.get(KERNEL_ENV, "auto")
        if kernel == "auto":
            return "compiled" if pairs >= MIN_PAIRS and self.calls > COMPILE_AFTER else "eager"
        if kernel not in KERNELS:
            raise ValueError(f"unknown mixture kernel '{kernel}'; choose one of {KERNELS}")
        return kernel

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

