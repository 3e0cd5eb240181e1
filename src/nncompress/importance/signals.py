"""Output-side seeds of the softmax cross-entropy and their backward pass to the layers.

With logits z, f = softmax(z/T) and L = −log f_y (paper 003, C.3.1 for T):

    ∂L/∂z        = (f − e_y)/T                                 → `gradient` (Table 2), one seed
    ∂²L/∂z²      = (diag f − f fᵀ)/T² = S Sᵀ,  S = (diag √f − f √fᵀ)/T
                   (S Sᵀ = diag f − 2 f fᵀ + f (Σ_c f_c) fᵀ, and Σ_c f_c = 1)

The unsupervised score of eq. (6), diagonal, needs no C separate derivatives of f: since
∂f_c/∂z = f_c (e_c − f)/T,

    Σ_c (∂f_c/∂w)² / f_c = Σ_c (Jᵀ s_c)²,   s_c = √f_c (e_c − f)/T = column c of S,

i.e. C backward seeds through the network once (a batched vector-Jacobian product), squared and
summed. The same sum is the diagonal of the Gauss-Newton matrix Jᵀ (∂²L/∂z²) J: for the softmax
cross-entropy, Gauss-Newton and Fisher coincide, so `fisher` and the `gauss_newton` Hessian share
this code (labels are not used by either).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.core.evaluation import logits_of

from .layers import capture, layer_moments

Moments = dict[str, tuple[torch.Tensor, "torch.Tensor | None"]]


def gradient_seeds(z: torch.Tensor, y: torch.Tensor, temperature: float) -> torch.Tensor:
    """(1, N, C): ∂L/∂z for each sample."""
    f = torch.softmax(z / temperature, dim=-1)
    return ((f - F.one_hot(y, f.shape[-1]).to(f.dtype)) / temperature).unsqueeze(0)


def fisher_seeds(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """(C, N, C): the columns s_c = √f_c (e_c − f)/T of the factor S of ∂²L/∂z²."""
    f = torch.softmax(z / temperature, dim=-1)
    eye = torch.eye(f.shape[-1], dtype=f.dtype, device=f.device)
    return f.sqrt().T.unsqueeze(-1) * (eye.unsqueeze(1) - f.unsqueeze(0)) / temperature


def factor_times(z: torch.Tensor, v: torch.Tensor, temperature: float) -> torch.Tensor:
    """(N, C): S v per sample, without forming S: (√f ⊙ v − f ⟨√f, v⟩)/T."""
    f = torch.softmax(z / temperature, dim=-1)
    sf = f.sqrt()
    return (sf * v - f * (sf * v).sum(-1, keepdim=True)) / temperature


def backprop(roots: Sequence[torch.Tensor], nodes: Sequence[torch.Tensor],
             seeds: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Σ_r J_{roots[r]/node}ᵀ seeds[r] at every node; zeros where a node does not reach a root."""
    if not nodes:
        return []
    grads = torch.autograd.grad(list(roots), list(nodes), list(seeds), retain_graph=True, allow_unused=True)
    return [torch.zeros_like(n) if g is None else g for n, g in zip(nodes, grads)]


def batched_backprop(z: torch.Tensor, nodes: Sequence[torch.Tensor], seeds: torch.Tensor) -> list[torch.Tensor]:
    """(K, N, *node) per node for K seeds at the output, one backward pass each."""
    per_seed = [backprop([z], nodes, [s]) for s in seeds]
    return [torch.stack([g[i] for g in per_seed]) for i in range(len(nodes))]


def check_independent_samples(model: nn.Module) -> None:
    """Per-sample expectations need sample n's output to depend on sample n only (eval mode)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is None:
            raise ValueError(f"BatchNorm '{name}' has no running statistics, so it mixes the samples "
                             "of a batch even in eval mode; per-sample importance is undefined")


def exact_moments(model: nn.Module, layers: dict[str, nn.Module], x: torch.Tensor,
                  seeds_of: Callable[[torch.Tensor], torch.Tensor], second: bool,
                  closed_form: bool = True) -> Moments:
    """Σ_n Σ_k (Jᵀ s_nk)² per layer (and Σ_n of its square when `second`), seeds from the logits."""
    modules = list(layers.values())
    with capture(modules, model) as record:
        z = logits_of(model(x))
        record.check_unmodified()
        seen = [m for m in modules if m in record.io]
        signals = batched_backprop(z, [record.io[m][1] for m in seen], seeds_of(z.detach()))
    out: Moments = {}
    for name, m in layers.items():
        if m not in record.io:  # not on the forward path: the output does not depend on it
            out[name] = (torch.zeros_like(m.weight), torch.zeros_like(m.weight) if second else None)
            continue
        g = signals[seen.index(m)]
        out[name] = layer_moments(m, record.io[m][0].detach(), [(g, g)], second, closed_form)
    return out
