"""Per-weight importance of paper 003 (Tables 1 and 2, section 6, appendix C.3) for the weights of
every nn.Linear and nn.Conv2d, by registry key. With f = softmax(z/T) and L = −log f_y:

    baseline      I = 1                                   objective Σ (w − ŵ)²
    fisher        I = E_x[Σ_c (∂f_c/∂w)² / f_c]           eq. (6), diagonal; labels unused
    gradient      I = E[(∂L/∂w)²]                         section 6.2
    hessian       I = E[∂²L/∂w²] + μ                      μ after the estimate, C.3.2
    grad_hessian  I = E[(∂L/∂w)²],  Q = ¼ E[(∂²L/∂w²)²]   objective Σ I (w−ŵ)² + Σ Q (w−ŵ)⁴

`Importance.first` is I and `Importance.quartic` is Q, the whole coefficient of (w − ŵ)⁴ (the ¼
included), so the objective is Σ first·(w−ŵ)² + Σ quartic·(w−ŵ)⁴ as in Algorithm 2.

Expectations are per sample over the stream of (x, y) batches, the model in eval mode (dropout
off, BatchNorm on running statistics; training flags restored after). `per_sample=False` gives
the public code's squared mini-batch gradient instead (minibatch.py; `gradient`, `grad_hessian`).
How: signals.py (fisher, gradient, Gauss-Newton), hessian.py (Hessian diagonals), layers.py
(closed forms for Linear, torch.func for the rest). μ is not added to the quartic term: there the
Hessian enters squared beside the gradient term, and zero entries do no harm.
`normalize=True` divides each layer's I (and Q) by the layer's mean I before μ is added, as the
public code does; it changes only μ's relative size, since per-layer pruning and k-means are
invariant to a per-layer scale.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Iterator, Union

import torch
from torch import nn

from .hessian import HESSIAN_ESTIMATORS
from .layers import target_layers
from .minibatch import squared_minibatch_gradients
from .signals import check_independent_samples, exact_moments, fisher_seeds, gradient_seeds

Batch = Union[tuple, list, torch.Tensor]  # (x, y), (x,) or x


@dataclass
class Importance:
    first: dict[str, torch.Tensor]                  # coefficient of (w − ŵ)²
    quartic: dict[str, torch.Tensor] | None = None  # coefficient of (w − ŵ)⁴ (grad_hessian)
    n_samples: int = 0


def check_options(name: str, *, temperature: float = 1.0, mu: float = 0.0,
                  hessian_estimator: str = "curvature_propagation", per_sample: bool = True,
                  batch_size: int = 10) -> None:
    """One-line ValueErrors for bad settings, before any work."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown importance estimator '{name}'; choose one of {sorted(ESTIMATORS)}")
    if hessian_estimator not in HESSIAN_ESTIMATORS:
        raise ValueError(f"unknown Hessian estimator '{hessian_estimator}'; "
                         f"choose one of {sorted(HESSIAN_ESTIMATORS)}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature T must be a positive number, got {temperature}")
    if not (math.isfinite(mu) and mu >= 0):
        raise ValueError(f"the Hessian regulariser mu must be >= 0, got {mu}")
    if not per_sample and name not in ("gradient", "grad_hessian"):
        raise ValueError(f"per_sample=False (the public code's squared mini-batch gradient) applies "
                         f"to 'gradient' and 'grad_hessian' only, not '{name}'")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def stream(batches: Iterable[Batch], size: int, max_batches: int | None = None,
           max_samples: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """The rows of `batches` regrouped into pieces of exactly `size` rows (the last may be short)."""
    xs, ys, held, seen = [], [], 0, 0
    for i, batch in enumerate(batches):
        if (max_batches is not None and i >= max_batches) or (max_samples is not None and seen >= max_samples):
            break
        x, y = (batch[0], batch[1] if len(batch) > 1 else None) if isinstance(batch, (tuple, list)) else (batch, None)
        if max_samples is not None:
            x, y = x[:max_samples - seen], None if y is None else y[:max_samples - seen]
        seen += x.shape[0]
        xs.append(x), ys.append(y)
        held += x.shape[0]
        while held >= size:
            x_all = torch.cat(xs)
            y_all = None if any(v is None for v in ys) else torch.cat(ys)
            yield x_all[:size], None if y_all is None else y_all[:size]
            xs, ys, held = [x_all[size:]], [None if y_all is None else y_all[size:]], held - size
    if held:
        yield torch.cat(xs), None if any(v is None for v in ys) else torch.cat(ys)


def _estimate(model: nn.Module, batches: Iterable[Batch], *, first_term: str | None, hessian: bool,
              quartic: bool, temperature: float = 1.0, mu: float = 0.0,
              hessian_estimator: str = "curvature_propagation", per_sample: bool = True,
              batch_size: int = 10, max_batches: int | None = None, max_samples: int | None = None,
              seed: int = 0, chunk_size: int = 1024, closed_form: bool = True,
              normalize: bool = False) -> Importance:
    layers = target_layers(model)
    if not layers:
        raise ValueError("the model has no Linear or Conv2d weights to score")
    check_independent_samples(model)
    p = next(model.parameters())
    generator = torch.Generator(p.device).manual_seed(seed)
    chunk = chunk_size if per_sample else batch_size * max(1, chunk_size // batch_size)
    sums = {k: torch.zeros_like(m.weight) for k, m in layers.items()}
    sq = {k: torch.zeros_like(m.weight) for k, m in layers.items()}
    n = groups = 0
    with eval_mode(model):
        for x, y in stream(batches, chunk, max_batches, max_samples):
            x = x.to(p.device, p.dtype) if x.is_floating_point() else x.to(p.device)
            if y is None and (first_term == "gradient" or hessian):
                raise ValueError("this importance needs labels: give (x, y) batches")
            y = None if y is None else y.to(p.device)
            n += x.shape[0]
            if first_term == "fisher":
                parts = exact_moments(model, layers, x, partial(fisher_seeds, temperature=temperature),
                                      False, closed_form)
            elif first_term == "gradient" and per_sample:
                parts = exact_moments(model, layers, x, lambda z, y=y: gradient_seeds(z, y, temperature),
                                      False, closed_form)
            elif first_term == "gradient":
                minibatch, n_groups = squared_minibatch_gradients(model, list(layers), x, y, batch_size,
                                                                  temperature)
                parts, groups = {k: (v, None) for k, v in minibatch.items()}, groups + n_groups
            else:
                parts = {}
            for k, (s, _) in parts.items():
                sums[k] += s
            if hessian:
                moments = HESSIAN_ESTIMATORS[hessian_estimator](
                    model, layers, x, y, temperature=temperature, second=quartic,
                    generator=generator, closed_form=closed_form)
                for k, (s, s2) in moments.items():
                    (sq if quartic else sums)[k] += s2 if quartic else s
    if n == 0:
        raise ValueError("no samples to estimate the importance from: the batches are empty")
    denominator = groups if (first_term == "gradient" and not per_sample) else n
    first = {k: v / denominator for k, v in sums.items()}
    # clamped at 0: a product of two independent draws is unbiased for h² but can dip below 0
    # where h² ≈ 0, and Algorithm 2 needs a non-negative quartic coefficient
    fourth = {k: (v / (4 * n)).clamp_min(0) for k, v in sq.items()} if quartic else None
    if normalize:
        scale = {k: v.mean() for k, v in first.items()}
        first = {k: v / scale[k] if scale[k] > 0 else v for k, v in first.items()}
        if fourth is not None:
            fourth = {k: v / scale[k] if scale[k] > 0 else v for k, v in fourth.items()}
    if hessian and not quartic:
        first = {k: v + mu for k, v in first.items()}
    return Importance(first, fourth, n)


def baseline(model: nn.Module, batches: Iterable[Batch] = (), **_: object) -> Importance:
    return Importance({k: torch.ones_like(m.weight) for k, m in target_layers(model).items()})


ESTIMATORS: dict[str, Callable[..., Importance]] = {
    "baseline": baseline,
    "fisher": partial(_estimate, first_term="fisher", hessian=False, quartic=False),
    "gradient": partial(_estimate, first_term="gradient", hessian=False, quartic=False),
    "hessian": partial(_estimate, first_term=None, hessian=True, quartic=False),
    "grad_hessian": partial(_estimate, first_term="gradient", hessian=True, quartic=True),
}


def estimate_importance(name: str, model: nn.Module, batches: Iterable[Batch], **options) -> Importance:
    """Importance `name` of the model's Linear/Conv2d weights over `batches` of (x, y).

    options: temperature (T), mu (μ, `hessian` only), hessian_estimator (one of
    HESSIAN_ESTIMATORS), per_sample (False: mini-batch gradient of `batch_size`), max_batches,
    max_samples, seed (probe noise), chunk_size (rows per pass), closed_form (False: the generic
    torch.func path also for Linear layers), normalize (per-layer mean, before μ)."""
    check_options(name, **{k: options[k] for k in ("temperature", "mu", "hessian_estimator",
                                                   "per_sample", "batch_size") if k in options})
    return ESTIMATORS[name](model, batches, **options)
