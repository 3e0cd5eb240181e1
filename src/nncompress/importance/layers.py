"""Per-sample weight-gradient moments of the Linear and Conv2d layers, from output-side signals.

Every estimator of this package is a sum over samples n (and probes k) of products of two
per-sample weight gradients. With y_n = layer(a_n; W) and a signal g_nk = ∂(·)/∂y_n arriving at
the layer's output (one backward pass of the whole batch gives all of them, because in eval mode
sample n's output depends on sample n only), the per-sample gradient is J_W(a_n)ᵀ g_nk and

    e_n = Σ_k (J_W(a_n)ᵀ g_nk) ⊙ (J_W(a_n)ᵀ g'_nk)                                  (per-sample diagonal)
    first  = Σ_n e_n,      second = Σ_n e_n ⊙ ẽ_n  (ẽ from an independent draw, or e itself when exact)

Two paths compute them:
- closed form, nn.Linear on 2-D inputs: J_Wᵀ g = g aᵀ is an outer product, so with
  p_n = Σ_k g_nk ⊙ g'_nk:   first = Pᵀ (A ⊙ A),   second = (P ⊙ P̃)ᵀ (A⁴)   — two matmuls;
- generic, everything else (Conv2d, Linear on N-D inputs): torch.func.vjp of the layer alone on
  one sample, vmapped over samples and probes, in chunks bounded by `budget` elements.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call, vjp, vmap

TARGET_TYPES = (nn.Linear, nn.Conv2d, nn.Conv1d)
Signals = torch.Tensor  # (K, N, *layer output shape)


def target_layers(model: nn.Module) -> dict[str, nn.Module]:
    """{"<module>.weight": module} for every Linear and Conv2d, in `named_parameters` spelling."""
    return {f"{name}.weight" if name else "weight": m for name, m in model.named_modules()
            if isinstance(m, TARGET_TYPES) and isinstance(getattr(m, "weight", None), torch.Tensor)}


class Record:
    """Inputs and outputs of hooked modules in one forward pass: module → (input, output node).

    The input is kept as the module received it (still in the graph: curvature propagation
    injects noise there); detach it before using it as data."""

    def __init__(self) -> None:
        self.io: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        self.versions: dict[nn.Module, int] = {}

    def check_unmodified(self) -> None:
        for m, (a, _) in self.io.items():
            if a._version != self.versions[m]:
                raise ValueError(f"the input of {type(m).__name__} was modified in place after the layer "
                                 "read it; use out-of-place modules to estimate importance")


@contextmanager
def capture(modules: Sequence[nn.Module], model: nn.Module) -> Iterator[Record]:
    """Record each module's input and output; make each output a node we can differentiate to.

    The model's parameters are frozen meanwhile (their gradients are never needed, and the graph
    is then rooted at the first hooked output). Each output is handed on as a copy, so an
    in-place op downstream (ReLU(inplace=True)) cannot overwrite the recorded tensor."""
    record = Record()

    def hook(module, inputs, output):
        if module in record.io:
            raise ValueError(f"{type(module).__name__} is called more than once per forward pass "
                             "(shared weights); per-sample importance needs one call per layer")
        if not output.requires_grad:
            output = output.detach().requires_grad_()
        record.io[module] = (inputs[0], output)
        record.versions[module] = inputs[0]._version
        return output.clone()

    handles = [m.register_forward_hook(hook) for m in modules]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            yield record
    finally:
        for h in handles:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)


def _per_sample_grads(module: nn.Module, a: torch.Tensor, g: Signals) -> torch.Tensor:
    """(K, n, *W): the weight gradient of ⟨module(a_n), g_kn⟩ for every sample and probe."""
    params = {k: v.detach() for k, v in module.named_parameters()}
    weight = params.pop("weight")

    def one(a_n: torch.Tensor, g_n: torch.Tensor) -> torch.Tensor:
        def out(w: torch.Tensor) -> torch.Tensor:
            return functional_call(module, {**params, "weight": w}, (a_n.unsqueeze(0),))
        _, pull = vjp(out, weight)
        return pull(g_n.unsqueeze(0))[0]

    return vmap(vmap(one, in_dims=(0, 0)), in_dims=(None, 0))(a, g)


def _sample_diagonals(module: nn.Module, a: torch.Tensor, left: Signals, right: Signals) -> torch.Tensor:
    """(n, *W): e_n = Σ_k grad(left_kn) ⊙ grad(right_kn) by the generic path."""
    gl = _per_sample_grads(module, a, left)
    gr = gl if right is left else _per_sample_grads(module, a, right)
    return (gl * gr).sum(0)


def layer_moments(module: nn.Module, a: torch.Tensor, draws: Sequence[tuple[Signals, Signals]],
                  second: bool, closed_form: bool = True, budget: int = 1 << 24
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(Σ_n mean over draws of e_n,  Σ_n e_n ⊙ ẽ_n or None) for one layer and one chunk.

    `draws` holds one or two (left, right) signal pairs; with two, the second moment multiplies
    the two independent draws (unbiased for Σ_n E[e_n]² when each draw is unbiased), with one it
    squares the single draw (right for exact, deterministic estimators)."""
    if not 1 <= len(draws) <= 2:
        raise ValueError(f"one or two draws of signals, got {len(draws)}")
    if closed_form and isinstance(module, nn.Linear) and a.dim() == 2:
        a2 = a * a
        p = [(left * right).sum(0) for left, right in draws]  # (N, out) each
        first = sum(pd.T @ a2 for pd in p) / len(p)
        return first, ((p[0] * p[-1]).T @ (a2 * a2) if second else None)
    k = max(left.shape[0] for left, _ in draws)
    step = max(1, budget // (k * module.weight.numel()))
    first = torch.zeros_like(module.weight)
    sq = torch.zeros_like(module.weight) if second else None
    for s in range(0, a.shape[0], step):
        e = []
        for left, right in draws:
            l_chunk = left[:, s:s + step]
            r_chunk = l_chunk if right is left else right[:, s:s + step]
            e.append(_sample_diagonals(module, a[s:s + step], l_chunk, r_chunk))
        first += sum(ed.sum(0) for ed in e) / len(e)
        if second:
            sq += (e[0] * e[-1]).sum(0)
    return first, sq
