"""Paper 003 benchmarks: the importance estimators.

bench_importance(device) → seconds for `fisher` and `gradient` (per sample, and the public code's
mini-batch gradient) over 60,000 MNIST-shaped inputs on the MLP 784-256-256-10 of the public
recipe (random inputs and weights: the cost does not depend on the values), and for `hessian`
with each diagonal estimator. Hutchinson draws a Rademacher vector over all 266k weights per
sample, so it is timed on `hutchinson_samples` inputs and also scaled to the full count.
A small warm-up call first keeps one-time initialisation out of the timings.
"""
from __future__ import annotations

import time

import torch

from nncompress.importance import HESSIAN_ESTIMATORS, estimate_importance
from nncompress.models.mlp import MLP


def bench_importance(device: str = "cpu", n_samples: int = 60_000, batch: int = 1000,
                     hutchinson_samples: int = 6_000, threads: int | None = None) -> dict:
    """Seconds per estimator over `n_samples` inputs (Hutchinson over `hutchinson_samples`).

    `threads` sets torch's CPU threads for the run (restored after): on a machine shared with
    other jobs, 2 threads can run 10x slower than 1 as OpenMP teams wait on descheduled threads."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _bench(device, n_samples, batch, hutchinson_samples)
    finally:
        torch.set_num_threads(previous)


def _bench(device: str, n_samples: int, batch: int, hutchinson_samples: int) -> dict:
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = MLP().to(device)  # 784-256-256-10, dropout 0.2 (paper 003's MNIST model)
    x = torch.randn(n_samples, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n_samples,), generator=g)
    batches = [(x[i:i + batch].to(device), y[i:i + batch].to(device)) for i in range(0, n_samples, batch)]
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def seconds(name, **options) -> float:
        estimate_importance(name, model, batches[:1], **{**options, "max_samples": 100})  # warm-up
        sync()
        t0 = time.perf_counter()
        estimate_importance(name, model, batches, **options)
        sync()
        return time.perf_counter() - t0

    out = {"device": str(device), "n_samples": n_samples, "torch_threads": torch.get_num_threads()}
    out["fisher_s"] = seconds("fisher", temperature=2.0)
    out["gradient_s"] = seconds("gradient", temperature=2.0)
    out["gradient_minibatch10_s"] = seconds("gradient", per_sample=False, batch_size=10)
    for estimator in HESSIAN_ESTIMATORS:
        if estimator == "hutchinson":
            out["hutchinson_samples"] = n = min(hutchinson_samples, n_samples)
            out["hessian_hutchinson_s"] = seconds("hessian", hessian_estimator=estimator, max_samples=n)
            out["hessian_hutchinson_s_scaled_to_all"] = out["hessian_hutchinson_s"] * n_samples / n
        else:
            out[f"hessian_{estimator}_s"] = seconds("hessian", hessian_estimator=estimator)
    out["grad_hessian_s"] = seconds("grad_hessian", temperature=2.0)
    return out

