"""Weighted and quartic weighted k-means (Algorithm 2) against brute force: exhaustive contiguous
partitions (optimal in 1-D), dense-grid minimisers of each cluster's quartic objective, the
cubic's single real root, and an objective that never increases."""
from itertools import combinations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from nncompress.quantization.weighted import (
    clusters_for_bits,
    nearest,
    objective,
    quantile_init,
    quantize_weight,
    quartic_minimisers,
    quartic_weighted_kmeans,
    weighted_kmeans,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def rand(n, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, generator=g, dtype=torch.float64) * scale
    imp = torch.rand(n, generator=g, dtype=torch.float64) ** 3  # heavy-tailed like real importances
    quart = torch.rand(n, generator=g, dtype=torch.float64) * 5
    return w, imp, quart


def brute_force_optimum(w, imp, k):
    """min over all contiguous partitions of the sorted weights into k groups, each at its
    I-weighted mean (an optimal 1-D clustering is contiguous)."""
    order = torch.argsort(w)
    ws, iw = w[order].numpy(), imp[order].numpy()
    best = np.inf
    for cuts in combinations(range(1, len(ws)), k - 1):
        bounds = (0, *cuts, len(ws))
        cost = 0.0
        for a, b in zip(bounds[:-1], bounds[1:]):
            c = np.sum(iw[a:b] * ws[a:b]) / np.sum(iw[a:b])
            cost += np.sum(iw[a:b] * (ws[a:b] - c) ** 2)
        best = min(best, cost)
    return best


def assert_local_optimum(w, imp, centres, assign, quart=None):
    assert torch.equal(assign, nearest(w, centres))  # each weight at its nearest centre
    for j in range(centres.numel()):
        members = assign == j
        if not members.any():
            continue
        if quart is None:
            mean = (imp[members] * w[members]).sum() / imp[members].sum()
            torch.testing.assert_close(centres[j], mean, rtol=1e-12, atol=1e-14)
        else:
            x = brute_minimiser(w[members], imp[members], quart[members])
            assert abs(centres[j].item() - x) < 1e-6


def brute_minimiser(w, imp, quart):
    """argmin_x Σ I (w−x)² + H (w−x)⁴: dense grid over the members' range, then Brent refinement."""
    w, imp, quart = (t.numpy() for t in (w, imp, quart))
    f = lambda x: np.sum(imp * (w - x) ** 2 + quart * (w - x) ** 4)
    grid = np.linspace(w.min() - 1e-9, w.max() + 1e-9, 20001)
    d = grid[:, None] - w[None]
    i = int(np.argmin((imp * d ** 2 + quart * d ** 4).sum(1)))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    return minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}).x


@pytest.mark.parametrize("seed", range(6))
def test_weighted_kmeans_reaches_a_local_optimum_no_worse_than_brute_force(seed):
    w, imp, _ = rand(9, seed)
    centres, assign = weighted_kmeans(w, imp, 3)
    assert centres.numel() == 3 and torch.all(centres[1:] > centres[:-1])
    assert_local_optimum(w, imp, centres, assign)
    best = brute_force_optimum(w, imp, 3)
    assert objective(w, imp, centres, assign) >= best - 1e-12


def test_weighted_kmeans_finds_the_optimum_of_separated_groups_and_follows_importance():
    w = torch.tensor([-3.0, -2.9, -2.8, 0.0, 0.1, 0.2, 5.0, 5.05, 6.0], dtype=torch.float64)
    imp = torch.tensor([1, 1, 1, 1, 1, 1, 1, 1, 100], dtype=torch.float64)
    centres, assign = weighted_kmeans(w, imp, 3)
    assert objective(w, imp, centres, assign) == pytest.approx(brute_force_optimum(w, imp, 3), abs=1e-12)
    assert centres[-1] == pytest.approx((5.0 + 5.05 + 600.0) / 102)  # pulled to the important weight


@pytest.mark.parametrize("quartic", [False, True])
def test_objective_never_increases_per_iteration(quartic):
    w, imp, quart = rand(400, 7)
    q = quart if quartic else None
    run = (lambda t: quartic_weighted_kmeans(w, imp, quart, 8, max_iter=t)) if quartic else \
          (lambda t: weighted_kmeans(w, imp, 8, max_iter=t))
    values = [objective(w, imp, *run(t), quartic=q) for t in range(0, 31)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(values, values[1:]))
    assert values[-1] < 0.9 * values[0]  # it does move


def test_quartic_update_is_the_unique_root_and_the_brute_force_minimiser():
    g = torch.Generator().manual_seed(3)
    w, imp, quart = rand(60, 5, scale=0.3)
    idx = torch.randint(0, 5, (60,), generator=g)
    idx[idx == 4] = 3                       # cluster 4 empty: keeps its centre
    imp[idx == 1] = 0                       # cluster 1: quartic term only
    quart[idx == 2] = 0                     # cluster 2: quadratic only (the weighted mean)
    centres = torch.tensor([-0.5, -0.1, 0.0, 0.2, 9.0], dtype=torch.float64)
    roots = quartic_minimisers(w, imp, quart, idx, centres)
    assert roots[4] == 9.0
    for j in range(4):
        m = idx == j
        assert abs(roots[j].item() - brute_minimiser(w[m], imp[m], quart[m])) < 1e-7
        # the cubic of Algorithm 2 has exactly one real root, and it is ours
        a, b = (4 * quart[m]).sum(), (12 * quart[m] * w[m]).sum()
        c = (12 * quart[m] * w[m] ** 2 + 2 * imp[m]).sum()
        d = (4 * quart[m] * w[m] ** 3 + 2 * imp[m] * w[m]).sum()
        coeffs = [x.item() for x in (a, -b, c, -d)] if a > 0 else [c.item(), -d.item()]
        r = np.roots(coeffs)
        real = r[np.abs(r.imag) < 1e-9 * max(1, np.abs(r).max())].real
        assert len(real) == 1 and abs(real[0] - roots[j].item()) < 1e-8
        grid = np.linspace(-3, 3, 2001)
        assert np.all(np.diff(np.polyval(coeffs, grid)) > 0)  # strictly increasing derivative
    torch.testing.assert_close(roots[2], (imp[idx == 2] * w[idx == 2]).sum() / imp[idx == 2].sum())


@pytest.mark.parametrize("seed", range(3))
def test_quartic_kmeans_reaches_a_local_optimum(seed):
    w, imp, quart = rand(120, seed, scale=0.2)
    centres, assign = quartic_weighted_kmeans(w, imp, quart, 4)
    assert_local_optimum(w, imp, centres, assign, quart)
    zero = torch.zeros_like(quart)
    a = quartic_weighted_kmeans(w, imp, zero, 4)
    b = weighted_kmeans(w, imp, 4)
    torch.testing.assert_close(a[0], b[0], rtol=1e-12, atol=1e-14)  # H = 0 is weighted k-means
    assert torch.equal(a[1], b[1])


def test_more_clusters_than_distinct_values_and_ties():
    w = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.5, -0.25, 0.5], dtype=torch.float64)
    imp = torch.ones_like(w)
    centres, assign = weighted_kmeans(w, imp, 8)
    assert centres.tolist() == [-0.25, 0.0, 0.5] and torch.equal(centres[assign], w)
    init = quantile_init(w, 3)  # plain quantiles would repeat 0.0: spread over distinct values
    assert init.unique().numel() == 3


def test_plain_quantile_initialisation():
    w = torch.arange(11, dtype=torch.float64)
    assert quantile_init(w, 2).tolist() == [2.5, 7.5]  # (2j+1)/(2k) of 0..10, interpolated


@pytest.mark.parametrize("bits", [0, -1, 1.5, True])
def test_bad_bits_are_refused(bits):
    with pytest.raises(ValueError, match="bits"):
        clusters_for_bits(bits)


def test_quantize_weight_shapes_and_bad_importance():
    w, imp, quart = rand(48, 1)
    centres, assign = quantize_weight(w.view(6, 8), imp.view(6, 8), 2, quart.view(6, 8))
    assert centres.numel() == 4 and assign.shape == (6, 8) and assign.max() < 4
    with pytest.raises(ValueError, match="non-negative"):
        quantize_weight(w, -imp, 2)
    with pytest.raises(ValueError, match="shape"):
        quantize_weight(w, imp[:5], 2)
