"""Σ_i −log GM(w_i) over every weight, with its gradients, in one pass: the complexity term of soft
weight-sharing (Ullrich et al. 2017, eq. 7 without the hyper-prior; paper 001's −log GM(θ)).

With responsibilities r_ik = π_k N(w_i | μ_k, 1/λ_k) / Σ_j π_j N(w_i | μ_j, 1/λ_j) and d_ik = w_i − μ_k,

    L = −Σ_i log Σ_k π_k N(w_i | μ_k, 1/λ_k)
    ∂L/∂w_i = Σ_k r_ik λ_k d_ik          ∂L/∂μ_k = −λ_k Σ_i r_ik d_ik
    ∂L/∂log λ_k = −Σ_i r_ik (1 − λ_k d_ik²)/2          ∂L/∂log π_k = −Σ_i r_ik

so one pass needs, per weight, the log-sum-exp over components and Σ_k r λ d, and per component
Σ_i r, Σ_i r d, Σ_i r d² (the "moments" below; totals accumulated in float64). Two kernels compute
the same moments, equal to float32 rounding (tests/priors/test_mixture_nll.py):

  moments_chunked   eager PyTorch over [K, chunk] blocks; the reference, and the fallback. About 15
                    passes over N×K floats (266,200 × 17 for LeNet-300-100): memory-bound, ~10x the
                    network's own training step on a CPU.
  moments_unrolled  one expression per component over [N] vectors, written for torch.compile:
                    inductor fuses it into a few vectorised loops over the weights (~4x less time).
                    Run eagerly it is slow (≈ 200 small passes); it exists to be compiled.

`pick` chooses; compiling costs 10-60 s once per process and shape, so GaussianMixturePrior's
"auto" starts eager and compiles only once a run has shown it will be long.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional

import torch

CHUNK = 8192  # [17, 8192] float32 blocks stay in L2; 65536 (the old default) was ~1.5x slower
LOG_2PI = math.log(2 * math.pi)


def moments_chunked(w, means, log_prec, log_mix, chunk: int = CHUNK):
    """(Σ_i lse_i, ∂/∂w, Σ_i r, Σ_i r d, Σ_i r d²) over [K, chunk] blocks (eager)."""
    prec = log_prec.exp()
    offset = 0.5 * (log_prec - LOG_2PI) + log_mix  # [K]
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
    return total, grad_w, sums[0], sums[1], sums[2]


def moments_unrolled(w, means, log_prec, log_mix):
    """The same moments as moments_chunked, one [N] expression per component (for torch.compile:
    the component loop unrolls, so each weight's K terms live in registers, not in [N, K] tensors,
    and the vector lanes run along the weights rather than along K = 17)."""
    n_comp = means.shape[0]
    prec = log_prec.exp()
    offset = 0.5 * (log_prec - LOG_2PI) + log_mix
    half = 0.5 * prec
    ds = [w - means[k] for k in range(n_comp)]
    ts = [offset[k] - half[k] * d * d for k, d in enumerate(ds)]
    peak = ts[0]
    for t in ts[1:]:
        peak = torch.maximum(peak, t)
    es = [torch.exp(t - peak) for t in ts]
    norm = es[0]
    for e in es[1:]:
        norm = norm + e
    total = (peak + torch.log(norm)).sum(dtype=torch.float64)
    inv = 1.0 / norm
    rs = [e * inv for e in es]
    rds = [r * d for r, d in zip(rs, ds)]
    grad_w = prec[0] * rds[0]
    for k in range(1, n_comp):
        grad_w = grad_w + prec[k] * rds[k]
    # float64 totals: inductor's float32 reductions over 266k terms drift ~1e-6 (20x the eager ones)
    sum_r = torch.stack([r.sum(dtype=torch.float64) for r in rs])
    sum_rd = torch.stack([rd.sum(dtype=torch.float64) for rd in rds])
    sum_rdd = torch.stack([(rd * d).sum(dtype=torch.float64) for rd, d in zip(rds, ds)])
    return total, grad_w, sum_r, sum_rd, sum_rdd


class _Compiled:
    """moments_unrolled through torch.compile, made once per process; `None` from a call (and a
    warning, once) where compiling is impossible here: no C++ compiler, no Triton, an old torch."""

    def __init__(self):
        self.fn = None
        self.failed: Optional[str] = None

    def __call__(self, w, means, log_prec, log_mix):
        if self.failed is not None:
            return None
        try:
            if self.fn is None:
                self.fn = torch.compile(moments_unrolled, dynamic=False, fullgraph=True)
            return self.fn(w, means, log_prec, log_mix)
        except Exception as err:  # noqa: BLE001 - any failure to compile: the eager kernel is always right
            self.failed = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            warnings.warn(f"mixture prior: torch.compile failed ({self.failed}); using the eager kernel",
                          RuntimeWarning, stacklevel=2)
            return None


COMPILED = _Compiled()


def pick(kernel: str, chunk: int = CHUNK) -> Callable:
    """The moments function of `kernel` ("eager" or "compiled"; compiled falls back to eager)."""
    if kernel == "eager":
        return lambda *args: moments_chunked(*args, chunk=chunk)

    def compiled(*args):
        out = COMPILED(*args)
        return moments_chunked(*args, chunk=chunk) if out is None else out

    return compiled


class MixtureNLL(torch.autograd.Function):
    """L(w, μ, log λ, log π) of the module docstring; forward computes the gradients too (first
    order only), from the moments of `moments(w, means, log_prec, log_mix)`."""

    @staticmethod
    def forward(ctx, w, means, log_prec, log_mix, moments):
        total, grad_w, sum_r, sum_rd, sum_rdd = moments(w, means, log_prec, log_mix)
        prec = log_prec.exp()
        sum_r, sum_rd, sum_rdd = (s.to(w.dtype) for s in (sum_r, sum_rd, sum_rdd))
        ctx.save_for_backward(grad_w, -prec * sum_rd, -0.5 * (sum_r - prec * sum_rdd), -sum_r)
        return (-total).to(w.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        return (*(grad * g for g in ctx.saved_tensors), None)
