"""Diagonal of the per-sample Hessian ∂²L/∂w² of the softmax cross-entropy (paper 003, Table 2
and C.3.2), three estimators. Each returns per layer Σ_n ĥ_n and, for `grad_hessian`,
Σ_n ĥ_n ⊙ h̃_n with h̃ an independent draw, so that E[ĥ_n ⊙ h̃_n] = h_n² (E[(∂²L/∂w²)²]).

- gauss_newton: the exact diagonal of Jᵀ (∂²L/∂z²) J (the public code's choice). It omits
  Σ_c (∂L/∂z_c) ∂²z_c/∂w², which vanishes on the weight diagonal of networks whose nonlinearities
  are piecewise linear (ReLU, max-pooling, eval-mode BatchNorm): there it is the exact Hessian
  diagonal.
- curvature_propagation (Martens, Sutskever & Swersky 2012; the paper's choice): one backward
  pass of noise. H = Jᵀ S Sᵀ J + Σ_l J_lᵀ diag(d_l) J_l, where S is the output factor
  (signals.py) and d_l = (∂L/∂o_l) ⊙ σ_l''(u_l) the curvature of an elementwise activation
  o_l = σ_l(u_l). With Rademacher v, v_l, propagate
      γ  = Jᵀ S v + Σ_l J_lᵀ (√|d_l| ⊙ v_l),    γ' = Jᵀ S v + Σ_l J_lᵀ (sign(d_l) √|d_l| ⊙ v_l);
  then E[γ γ'ᵀ] = H and γ ⊙ γ' is unbiased for its diagonal (the real two-vector form of CP's
  complex factor for indefinite nodes; γ' = γ when no activation is curved). Bilinear nodes
  (y = W a) add only off-diagonal blocks (∂²y/∂W² = 0, and a does not depend on W), so they are
  left out. Activations are found as modules; a nonlinearity written as a function inside
  forward() (F.tanh) is invisible to it — use `hutchinson` for such models.
- hutchinson: E[v ⊙ H_n v] over Rademacher v on the target weights, per sample: torch.func
  forward-over-reverse Hessian-vector products vmapped over the samples.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from nncompress.core.evaluation import logits_of

from .layers import capture, layer_moments
from .signals import Moments, backprop, exact_moments, factor_times, fisher_seeds

CURVATURE_FREE = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.modules.batchnorm._BatchNorm, nn.Dropout,
    nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Flatten, nn.Unflatten, nn.Identity,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardtanh, nn.PReLU, nn.Hardsigmoid,
)  # linear or piecewise linear in their input: no curvature on the weight diagonal
CURVED_ELEMENTWISE = (
    nn.Tanh, nn.Sigmoid, nn.Softplus, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.LogSigmoid, nn.Softsign, nn.Tanhshrink, nn.Hardswish,
)


def curved_activations(model: nn.Module) -> list[nn.Module]:
    """The elementwise activations with curvature; refuses leaf modules of unknown curvature."""
    curved = []
    for name, m in model.named_modules():
        if isinstance(m, CURVED_ELEMENTWISE):
            curved.append(m)
        elif not isinstance(m, CURVATURE_FREE) and not any(True for _ in m.children()):
            raise ValueError(f"curvature_propagation does not know the curvature of module '{name}' "
                             f"({type(m).__name__}); use hessian_estimator='hutchinson'")
    return curved


def second_derivative(module: nn.Module, u: torch.Tensor) -> torch.Tensor:
    """σ''(u) elementwise for an elementwise activation module (two autograd passes)."""
    with torch.enable_grad():
        leaf = u.detach().requires_grad_()
        out = module.forward(leaf * 1)  # forward(): no hooks; `* 1`: safe for in-place modules
        (d1,) = torch.autograd.grad(out.sum(), leaf, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), leaf, allow_unused=True)
    return torch.zeros_like(u) if d2 is None else d2.detach()


def rademacher(shape, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """±1 with probability ½ each, 62 per random integer: the per-element RNG call would otherwise
    dominate per-sample Hutchinson, which draws N·|W| signs. The low 62 bits of a uniform integer
    on [−2⁶², 2⁶²) are independent fair bits (every residue mod 2⁶² occurs twice)."""
    n = math.prod(shape)
    words = torch.randint(-2**62, 2**62, ((n + 61) // 62,), generator=generator,
                          dtype=torch.int64, device=like.device)
    bits = (words.unsqueeze(1) >> torch.arange(62, device=like.device)).bitwise_and_(1)
    return bits.flatten()[:n].view(shape).to(like.dtype).mul_(2).sub_(1)


def gauss_newton(model, layers, x, y, *, temperature, second, generator, closed_form=True) -> Moments:
    return exact_moments(model, layers, x, lambda z: fisher_seeds(z, temperature), second, closed_form)


def curvature_propagation(model, layers, x, y, *, temperature, second, generator,
                          closed_form=True) -> Moments:
    modules, curved = list(layers.values()), curved_activations(model)
    with capture(modules + curved, model) as record:
        z = logits_of(model(x))
        record.check_unmodified()
        seen = [m for m in modules if m in record.io]
        nodes = [record.io[m][1] for m in seen]
        acts = [m for m in curved if m in record.io and record.io[m][0].requires_grad]
        loss = F.cross_entropy(z / temperature, y, reduction="sum")  # per-sample: samples independent
        g_out = backprop([loss], [record.io[m][1] for m in acts], [torch.ones_like(loss)])
        curv = [g * second_derivative(m, record.io[m][0]) for m, g in zip(acts, g_out)]
        roots = [z] + [record.io[m][0] for m in acts]
        draws = []
        for _ in range(2 if second else 1):
            out_seed = factor_times(z.detach(), rademacher(z.shape, z, generator), temperature)
            noise = [rademacher(d.shape, d, generator) * d.abs().sqrt() for d in curv]
            left = backprop(roots, nodes, [out_seed] + noise)
            right = left
            if any(bool((d < 0).any()) for d in curv):
                right = backprop(roots, nodes, [out_seed] + [n * d.sign() for n, d in zip(noise, curv)])
            draws.append((left, right))
    out: Moments = {}
    for name, m in layers.items():
        if m not in record.io:
            out[name] = (torch.zeros_like(m.weight), torch.zeros_like(m.weight) if second else None)
            continue
        i = seen.index(m)
        pairs = []
        for left, right in draws:
            gl = left[i].unsqueeze(0)
            pairs.append((gl, gl if right is left else right[i].unsqueeze(0)))
        out[name] = layer_moments(m, record.io[m][0].detach(), pairs, second, closed_form)
    return out


def hutchinson(model, layers, x, y, *, temperature, second, generator, closed_form=True,
               budget: int = 1 << 22) -> Moments:
    base = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())
    weights = {k: base[k] for k in layers}

    def loss(w, x_n, y_n):
        z = functional_call(model, ({**base, **w}, buffers), (x_n.unsqueeze(0),))
        return F.cross_entropy(z / temperature, y_n.unsqueeze(0))

    def probe(x_n, y_n, v):
        _, hv = jvp(lambda w: grad(loss)(w, x_n, y_n), (weights,), (v,))
        return {k: v[k] * hv[k] for k in weights}

    step = max(1, budget // sum(w.numel() for w in weights.values()))
    first = {k: torch.zeros_like(w) for k, w in weights.items()}
    sq = {k: torch.zeros_like(w) for k, w in weights.items()} if second else None
    for s in range(0, x.shape[0], step):
        xs, ys = x[s:s + step], y[s:s + step]
        e = [vmap(probe)(xs, ys, {k: rademacher((xs.shape[0], *w.shape), w, generator)
                                  for k, w in weights.items()})
             for _ in range(2 if second else 1)]
        for k in weights:
            first[k] += sum(ed[k].sum(0) for ed in e) / len(e)
            if second:
                sq[k] += (e[0][k] * e[-1][k]).sum(0)
    return {k: (first[k], sq[k] if second else None) for k in weights}


HESSIAN_ESTIMATORS = {
    "curvature_propagation": curvature_propagation,
    "gauss_newton": gauss_newton,
    "hutchinson": hutchinson,
}
