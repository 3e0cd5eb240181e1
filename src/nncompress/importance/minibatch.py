"""The public code's `gradient` estimate: squared mini-batch gradients (REFERENCE.md §4).

The paper defines the supervised importance per sample, E_n[(∂L_n/∂w)²] (section 6.2); the
authors' code squares the gradient of the mean loss over mini-batches of B = 10 instead:

    I = (1/G) Σ_g ( (1/|B_g|) Σ_{n∈B_g} ∂L_n/∂w )²,

which is E[(∂L/∂w)²]/B + (1 − 1/B)(E ∂L/∂w)² in expectation over random batches: a shrunken,
smoothed version of the per-sample score. Kept for comparison (`per_sample=False`). Groups are
consecutive samples in stream order; a final short group counts as one group.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap


def squared_group_gradients(model: nn.Module, names: list[str], xg: torch.Tensor, yg: torch.Tensor,
                            temperature: float) -> dict[str, torch.Tensor]:
    """Σ_g (∇_w mean_{n∈g} L_n)² for groups stacked as xg (G, B, ...), yg (G, B)."""
    base = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())
    weights = {k: base[k] for k in names}

    def group_loss(w, x, y):
        z = functional_call(model, ({**base, **w}, buffers), (x,))
        return F.cross_entropy(z / temperature, y)

    grads = vmap(grad(group_loss), in_dims=(None, 0, 0))(weights, xg, yg)
    return {k: (g * g).sum(0) for k, g in grads.items()}


def squared_minibatch_gradients(model: nn.Module, names: list[str], x: torch.Tensor, y: torch.Tensor,
                                batch_size: int, temperature: float) -> tuple[dict[str, torch.Tensor], int]:
    """(Σ_g (∇_w mean_{n∈g} L_n)², number of groups) over consecutive groups of `batch_size`
    rows of x (the last one may be short)."""
    full = x.shape[0] // batch_size * batch_size
    pieces = [(x[:full].unflatten(0, (-1, batch_size)), y[:full].unflatten(0, (-1, batch_size)))] if full else []
    if full < x.shape[0]:
        pieces.append((x[full:].unsqueeze(0), y[full:].unsqueeze(0)))
    sums = [squared_group_gradients(model, names, xg, yg, temperature) for xg, yg in pieces]
    return {k: sum(s[k] for s in sums) for k in names}, math.ceil(x.shape[0] / batch_size)
