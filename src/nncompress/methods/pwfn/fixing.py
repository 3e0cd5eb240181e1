"""One PWFN fixing round over flat tensors or over Bayes-by-backprop layers (paper 002).

`fixing_round` dispatches to Algorithm 1 of the appendix (algorithm1.py, variant="appendix", the
default) or to the authors' public code's variant (public.py, variant="public"); `fix_layers`
pools the weights and biases of the layers, runs one round and writes the result back.
The names of both variants are re-exported here.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from nncompress.methods.pwfn.algorithm1 import COUNT_MODES, algorithm1_round
from nncompress.methods.pwfn.public import public_round
from nncompress.methods.pwfn.result import FixingReport, FixingResult

VARIANTS = ("appendix", "public")
__all__ = ["COUNT_MODES", "VARIANTS", "FixingReport", "FixingResult", "algorithm1_round", "public_round",
           "fixing_round", "gather_posteriors", "scatter_posteriors", "fix_layers"]


def fixing_round(mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor, p: float, *,
                 variant: str = "appendix", zero_fix: bool = False, count: str = "within_delta",
                 **options) -> FixingResult:
    """One round of the chosen variant ("appendix" = Algorithm 1, "public" = the authors' code)."""
    if variant == "appendix":
        if zero_fix:
            raise ValueError("zero_fix belongs to the public variant (variant='public')")
        return algorithm1_round(mu, sigma, fixed, p, count=count, **options)
    if variant == "public":
        return public_round(mu, sigma, p, zero_fix=zero_fix, **options)
    raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


# --------------------------------------------------------------------------------------------
# Bayes-by-backprop layers <-> flat tensors
# --------------------------------------------------------------------------------------------
def _as_layers(layers: Iterable) -> list:
    return [layer[1] if isinstance(layer, tuple) else layer for layer in layers]


def gather_posteriors(layers: Iterable) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Effective means, sigmas and fixed masks of all layers' weights and biases, flattened in order."""
    layers = _as_layers(layers)
    parts = [(layer.mean(name), layer.std(name), layer.fixed(name))
             for layer in layers for name in layer.posterior_names]
    with torch.no_grad():
        return tuple(torch.cat([part[i].detach().flatten() for part in parts]) for i in range(3))


def scatter_posteriors(layers: Iterable, mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor) -> None:
    """Write flat means, sigmas and fixed masks back in the order of gather_posteriors."""
    offset = 0
    for layer in _as_layers(layers):
        for name in layer.posterior_names:
            size = layer.mu(name).numel()
            layer.set_posterior_(name, mu[offset:offset + size], sigma[offset:offset + size],
                                 fixed[offset:offset + size])
            offset += size
    if offset != mu.numel():
        raise ValueError(f"{mu.numel()} values for layers holding {offset}")


def fix_layers(layers: Iterable, p: float, **options) -> FixingReport:
    """One fixing round over the pooled weights and biases of Bayes-by-backprop layers, in place."""
    layers = _as_layers(layers)
    # The rounds index with CPU tensors: fix on the CPU whatever device the layers are on.
    mu, sigma, fixed = (t.cpu() for t in gather_posteriors(layers))
    result = fixing_round(mu, sigma, fixed, p, **options)
    scatter_posteriors(layers, result.mu, result.sigma, result.fixed)
    return result.report
