"""Weight quantisation to a small codebook: 1-D k-means and nearest-entry assignment."""
from __future__ import annotations

import torch


def _nearest_sorted(values: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest of the sorted `centres` for every value: a binary search against the
    midpoints (O(n log k), where comparing every value with every centre costs O(n k))."""
    return torch.searchsorted((centres[1:] + centres[:-1]) / 2, values)


def kmeans_1d(values: torch.Tensor, k: int, iters: int = 100) -> torch.Tensor:
    """Sorted centres of Lloyd's k-means on scalars, initialised evenly between min and max
    (the linear initialisation Han et al. 2015 found best for weights: it keeps the rare large
    weights, which quantile initialisation would merge away). An empty cluster keeps its centre."""
    v = values.detach().double().flatten()
    k = min(k, int(v.unique().numel()))
    if k == 0:
        return v.new_zeros(0)
    centres = torch.linspace(float(v.min()), float(v.max()), k, dtype=v.dtype)
    for _ in range(iters):
        idx = _nearest_sorted(v, centres)
        sums = torch.zeros_like(centres).index_add_(0, idx, v)
        counts = torch.bincount(idx, minlength=k).to(v.dtype)
        new = torch.where(counts > 0, sums / counts.clamp_min(1), centres).sort().values
        if torch.equal(new, centres):
            break
        centres = new
    return centres.float()


def assign(values: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index into `codebook` (any order) of the nearest entry for every value."""
    order = torch.argsort(codebook)
    flat = values.reshape(-1).to(codebook.dtype).contiguous()
    return order[_nearest_sorted(flat, codebook[order].contiguous())].reshape(values.shape)
