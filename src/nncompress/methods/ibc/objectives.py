"""The regularisers of paper 001, each a separate piece of the objective

    loss = CE + Σ_terms weight(step) · value(module) / N        (N training examples)

    SparseVDKL     τ1 · Σ KL(q(w) ‖ log-uniform) over the VD layers (Molchanov et al. 2017)
    MixturePrior   τ2 · (−log GM(θ) − log Gamma(λ)) over the weights (soft weight-sharing,
                   Ullrich et al. 2017); in VD+SWS it starts at `start_step` (phase 2, paper 001
                   appendix A) and is re-initialised from the weights as they are then (Table 3).

A method is a list of terms: vd = [SparseVDKL], sws = [MixturePrior], vd_sws = both.
"""
from __future__ import annotations

import torch
from torch import nn

from nncompress.layers.vd import vd_layers
from nncompress.priors.mixture import GaussianMixturePrior


class SparseVDKL:
    name = "kl_vd"

    def __init__(self, tau: float = 1.0):
        self.tau = tau

    def weight(self, step: int) -> float:
        return self.tau

    def value(self, module) -> torch.Tensor:
        return sum(m.kl() for m in vd_layers(module.net))


class MixturePrior(nn.Module):
    name = "neg_log_gm"

    def __init__(self, weights: torch.Tensor, tau: float = 2e-2, start_step: int = 0, **mixture_kwargs):
        super().__init__()
        self.tau, self.start_step, self.mixture_kwargs = tau, start_step, mixture_kwargs
        self.mixture = GaussianMixturePrior(weights, **mixture_kwargs)

    def weight(self, step: int) -> float:
        return 0.0 if step < self.start_step else self.tau

    def value(self, module) -> torch.Tensor:
        return self.mixture.neg_log_likelihood(module.weights()) - self.mixture.log_hyperprior()

    @torch.no_grad()
    def reinitialise(self, weights: torch.Tensor) -> None:
        """The mixture as Table 3 initialises it from `weights` (phase 2 of VD+SWS starts)."""
        fresh = GaussianMixturePrior(weights.detach().cpu(), **self.mixture_kwargs)
        for name, p in self.mixture.named_parameters():
            p.copy_(getattr(fresh, name))
