"""Importance-weighted 1-D k-means for per-layer quantisation (paper 003, section 5.3 and
appendix C.2, Algorithm 2).

For one layer's weights w_i, importances I_i ≥ 0 and quartic coefficients H_i ≥ 0, find k = 2^bits
centres c_j and an assignment A minimising

    Φ = Σ_i I_i (w_i − c_{A_i})² + Σ_i H_i (w_i − c_{A_i})⁴          (H = 0: weighted k-means)

by alternating the two exact partial minimisations, so Φ never increases:
- assignment: the nearest centre (Φ_i is increasing in |w_i − c| for any I_i, H_i ≥ 0), found by a
  binary search against the midpoints of the sorted centres; a weight exactly on a midpoint goes to
  the lower centre;
- update: with H = 0 the I-weighted mean of the members; otherwise the root of
      Φ_j'(x) = (Σ4H) x³ − (Σ12Hw) x² + (Σ(12Hw² + 2I)) x − Σ(4Hw³ + 2Iw) = 0.
  Uniqueness: Φ_j''(x) = Σ 2I + Σ 12H (x − w)² ≥ 0, and it vanishes at most at one point unless
  Σ I = Σ H = 0 (then Φ_j is constant and the centre is kept); so Φ_j' is strictly increasing and
  has exactly one real root (the paper's Δ₀ < 0 argument, extended to Σ H = 0). Since Φ_j'(min w) ≤
  0 ≤ Φ_j'(max w), the root lies in the members' range: we solve it vectorised over clusters by
  Newton steps safeguarded by bisection on that bracket, in coordinates centred on the current
  centre to avoid cancellation in the power sums.
Clusters that are empty or carry zero total weight keep their centre. At most `max_iter` (30)
iterations, stopping early when the assignment no longer changes.

Initialisation: plain (unweighted) quantiles (2j+1)/(2k), linearly interpolated, as the public
code does. Plain, not importance-weighted, because (1) every objective then starts from the same
codebook, so comparisons between importances isolate the weighting of the updates, and (2) heavy-
tailed importances (a few weights carry most of it) put several weighted quantiles on the same
weight, wasting centres from the start. If heavy ties (e.g. many zeros) still make two initial
centres equal, the quantiles of the distinct values are used instead. With k ≥ the number of
distinct values the centres are those values (zero distortion), so len(centres) = min(k, #distinct).
"""
from __future__ import annotations

import torch

MAX_ITER = 30


def clusters_for_bits(bits: int) -> int:
    """k = 2^bits; bits must be an integer ≥ 1."""
    if isinstance(bits, bool) or int(bits) != bits or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got {bits}")
    return 2 ** int(bits)


def _check(values: torch.Tensor, **weights: torch.Tensor | None) -> None:
    for name, w in weights.items():
        if w is None:
            continue
        if w.shape != values.shape:
            raise ValueError(f"{name} has shape {tuple(w.shape)}, the weights {tuple(values.shape)}")
        if not torch.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"{name} must be finite and non-negative")


def quantile_init(values: torch.Tensor, k: int) -> torch.Tensor:
    """Sorted plain quantiles (2j+1)/(2k), j < k, with linear interpolation (k ≤ #distinct)."""
    def quantiles(s: torch.Tensor) -> torch.Tensor:
        pos = (torch.arange(k, dtype=s.dtype, device=s.device) + 0.5) / k * (s.numel() - 1)
        lo = pos.floor().long()
        hi = torch.clamp(lo + 1, max=s.numel() - 1)
        return s[lo] + (pos - lo) * (s[hi] - s[lo])

    centres = quantiles(values.flatten().sort().values)
    if centres.unique().numel() < k:  # ties in the data: spread over the distinct values instead
        centres = quantiles(values.flatten().unique())
    return centres


def nearest(values: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest of the sorted `centres` (ties to the lower one)."""
    return torch.searchsorted((centres[1:] + centres[:-1]) / 2, values.contiguous())


def objective(values: torch.Tensor, importance: torch.Tensor, centres: torch.Tensor,
              assignment: torch.Tensor, quartic: torch.Tensor | None = None) -> float:
    """Σ I (w − c_A)² + Σ H (w − c_A)⁴."""
    d2 = (values - centres[assignment]) ** 2
    total = (importance * d2).sum()
    return float(total if quartic is None else total + (quartic * d2 * d2).sum())


def _weighted_means(w, imp, idx, centres):
    mass = torch.zeros_like(centres).index_add_(0, idx, imp)
    moment = torch.zeros_like(centres).index_add_(0, idx, imp * w)
    return torch.where(mass > 0, moment / torch.where(mass > 0, mass, 1), centres)


def quartic_minimisers(w, imp, quartic, idx, centres, iters: int = 100) -> torch.Tensor:
    """Per cluster, the unique minimiser of Σ I (w−x)² + H (w−x)⁴ (the cubic's real root)."""
    k = centres.numel()
    u = w - centres[idx]  # centred on the current centre: the power sums stay well conditioned

    def total(x):
        return torch.zeros_like(centres).index_add_(0, idx, x)

    a, b = total(4 * quartic), total(12 * quartic * u)
    c, d = total(12 * quartic * u * u + 2 * imp), total(4 * quartic * u ** 3 + 2 * imp * u)
    lo = torch.full((k,), float("inf"), dtype=w.dtype, device=w.device).scatter_reduce(0, idx, u, "amin")
    hi = torch.full((k,), float("-inf"), dtype=w.dtype, device=w.device).scatter_reduce(0, idx, u, "amax")
    live = (a > 0) | (total(imp) > 0)  # else empty, or Φ_j constant: keep the centre
    lo, hi = torch.where(live, lo, 0), torch.where(live, hi, 0)
    t = (lo + hi) / 2
    for _ in range(iters):
        f = ((a * t - b) * t + c) * t - d
        df = (3 * a * t - 2 * b) * t + c
        lo, hi = torch.where(f < 0, t, lo), torch.where(f > 0, t, hi)
        step = t - f / torch.where(df > 0, df, 1)
        inside = (df > 0) & (step > lo) & (step < hi)
        t_new = torch.where(f == 0, t, torch.where(inside, step, (lo + hi) / 2))
        if torch.equal(t_new, t):
            break
        t = t_new
    return torch.where(live, centres + t, centres)


def _kmeans(values, importance, k, quartic, max_iter):
    if int(k) != k or k < 1:
        raise ValueError(f"the number of clusters must be a positive integer, got {k}")
    if not 0 <= max_iter:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    _check(values, importance=importance, quartic=quartic)
    w = values.detach().flatten().double()
    imp = importance.detach().flatten().to(w)
    h = None if quartic is None else quartic.detach().flatten().to(w)
    distinct = w.unique()
    if k >= distinct.numel():
        return distinct.to(values.dtype), nearest(w, distinct).view(values.shape)
    centres = quantile_init(w, int(k))
    idx = nearest(w, centres)
    for _ in range(max_iter):
        centres = (_weighted_means(w, imp, idx, centres) if h is None
                   else quartic_minimisers(w, imp, h, idx, centres))
        order = torch.argsort(centres, stable=True)  # keep them sorted for the binary search
        centres, idx = centres[order], torch.argsort(order)[idx]
        new = nearest(w, centres)
        if torch.equal(new, idx):
            break
        idx = new
    return centres.to(values.dtype), new.view(values.shape) if max_iter else idx.view(values.shape)


def weighted_kmeans(values: torch.Tensor, importance: torch.Tensor, k: int,
                    max_iter: int = MAX_ITER) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted centres, assignment shaped like `values`) minimising Σ I (w − c_A)²."""
    return _kmeans(values, importance, k, None, max_iter)


def quartic_weighted_kmeans(values: torch.Tensor, importance: torch.Tensor, quartic: torch.Tensor,
                            k: int, max_iter: int = MAX_ITER) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 2: (sorted centres, assignment) minimising Σ I (w − c_A)² + Σ H (w − c_A)⁴."""
    if quartic is None:
        raise ValueError("the quartic k-means needs the quartic coefficients H")
    return _kmeans(values, importance, k, quartic, max_iter)


def quantize_weight(weight: torch.Tensor, importance: torch.Tensor, bits: int,
                    quartic: torch.Tensor | None = None, max_iter: int = MAX_ITER
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer at `bits` bits: Algorithm 2 when `quartic` is given, weighted k-means otherwise."""
    k = clusters_for_bits(bits)
    return (weighted_kmeans(weight, importance, k, max_iter) if quartic is None
            else quartic_weighted_kmeans(weight, importance, quartic, k, max_iter))
