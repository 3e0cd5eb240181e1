"""Weight quantisation to a small codebook: 1-D k-means and mixture-component assignment."""
from __future__ import annotations

import torch


def kmeans_1d(values: torch.Tensor, k: int, iters: int = 100) -> torch.Tensor:
    """Sorted centres of Lloyd's k-means on scalars, initialised evenly between min and max
    (the linear initialisation Han et al. 2015 found best for weights: it keeps the rare large
    weights, which quantile initialisation would merge away)."""
    v = values.detach().double().flatten()
    k = min(k, int(v.unique().numel()))
    if k == 0:
        return v.new_zeros(0)
    centres = torch.linspace(float(v.min()), float(v.max()), k, dtype=v.dtype)
    for _ in range(iters):
        idx = torch.argmin((v[:, None] - centres[None]).abs(), dim=1)
        sums = torch.zeros_like(centres).index_add(0, idx, v)
        counts = torch.zeros_like(centres).index_add(0, idx, torch.ones_like(v))
        new = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
        if torch.equal(new, centres):
            break
        centres = new
    return centres.sort().values.float()


def assign(values: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook entry for every value."""
    return torch.argmin((values.reshape(-1, 1) - codebook.reshape(1, -1)).abs(), dim=1).reshape(values.shape)
