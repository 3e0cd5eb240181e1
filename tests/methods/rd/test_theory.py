"""Theorem 2's weighted water-filling against the closed-form Figure 6 example and a generic
root-finder; Theorem 3's compressor by Monte Carlo (distortion within its confidence interval of
D, channel parameters as stated) and its closed-form mutual information equal to R(D)."""
import numpy as np
import pytest
from scipy.optimize import brentq

from nncompress.methods.rd.theory import (
    breakpoints,
    compressor,
    expected_distortion,
    kinks,
    mutual_information_bits,
    rate_distortion,
    rate_distortion_curve,
    sample_compressed,
    water_filling,
)

LAM = SIGMA2 = np.array([3.0, 2.0, 1.0])


def figure6(D):
    """REFERENCE.md §4's three segments of R(D) for λ = σ² = (3, 2, 1)."""
    if D <= 3:
        return np.log2(6) - 1.5 * np.log2(D / 3)
    if D <= 9:
        return np.log2(12 / (D - 1))
    if D <= 14:
        return 0.5 * np.log2(9 / (D - 5))
    return 0.0


@pytest.mark.parametrize("D", [0.01, 0.5, 1.0, 2.999, 3.0, 3.001, 5.0, 8.5, 9.0, 9.5, 12.0, 13.99, 14.0, 20.0])
def test_figure6_closed_form(D):
    assert rate_distortion(LAM, SIGMA2, D) == pytest.approx(figure6(D), abs=1e-12)


def test_figure6_kinks_and_shape():
    np.testing.assert_allclose(kinks(LAM, SIGMA2), [(3.0, np.log2(6)), (9.0, np.log2(1.5)), (14.0, 0.0)],
                               rtol=0, atol=1e-12)
    d, r = rate_distortion_curve(LAM, SIGMA2, num=400)
    assert {3.0, 9.0, 14.0} <= set(d.tolist())
    assert np.all(np.diff(r) <= 1e-12) and np.all(np.diff(r)[d[1:] < 14] < 0)  # decreasing until 0
    # convex: every chord lies above the curve, checked on a uniform grid
    grid = np.linspace(0.5, 16, 301)
    rg = rate_distortion(LAM, SIGMA2, grid)
    assert np.all(rg[1:-1] <= (rg[:-2] + rg[2:]) / 2 + 1e-12)
    # the pieces: μ = D/3, (D − 1)/2, D − 5; D_i = min(μ/λ_i, σ_i²)
    wf = water_filling(LAM, SIGMA2, np.array([2.0, 6.0, 11.0]))
    np.testing.assert_allclose(wf.levels, [[2 / 9, 2 / 6, 2 / 3], [2.5 / 3, 2.5 / 2, 1], [6 / 3, 2, 1]])


def test_water_level_solves_the_constraint_for_random_lambda_sigma():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = rng.integers(1, 12)
        lam, sigma2 = rng.gamma(1.0, 2.0, m), rng.gamma(1.0, 1.0, m)
        total = np.sum(lam * sigma2)
        for D in rng.uniform(1e-4, 1.2, 5) * total:
            wf = water_filling(lam, sigma2, D)
            assert np.sum(lam * wf.levels) == pytest.approx(min(D, total), rel=1e-12)
            if D < total:  # the same μ as a generic root-finder on Σ min(μ, λσ²) = D
                cap = lam * sigma2
                mu = brentq(lambda u, D=D, cap=cap: np.minimum(u, cap).sum() - D, 0, cap.max(), xtol=1e-15)
                assert wf.mu == pytest.approx(mu, rel=1e-9)
            assert wf.rate_bits == pytest.approx(0.5 * np.log2(sigma2 / np.minimum(wf.mu / lam, sigma2)).sum())
        assert breakpoints(lam, sigma2)[-1] == pytest.approx(total)


@pytest.mark.parametrize("D", [1.5, 3.0, 6.0, 11.0, 14.0])
def test_theorem3_compressor_monte_carlo(D):
    a, s2 = compressor(LAM, SIGMA2, D)
    assert expected_distortion(LAM, SIGMA2, a, s2) == pytest.approx(D)
    rng = np.random.default_rng(int(D * 10))
    w = rng.standard_normal((400_000, 3)) * np.sqrt(SIGMA2)
    w_hat = sample_compressed(w, a, s2, rng)
    d = ((w - w_hat) ** 2 * LAM).sum(1)
    assert abs(d.mean() - D) < 4.5 * d.std() / np.sqrt(d.size)  # mean distortion within its CI of D
    # Ŵ ⟂ W − Ŵ (the first golden rule), and Ŵ = 0 exactly on full coordinates
    for i in range(3):
        cov = np.cov(w_hat[:, i], w[:, i] - w_hat[:, i])[0, 1]
        assert abs(cov) < 4.5 * np.std(w_hat[:, i] * (w[:, i] - w_hat[:, i])) / np.sqrt(w.shape[0]) + 1e-15
        if water_filling(LAM, SIGMA2, D).levels[i] == SIGMA2[i]:
            assert np.all(w_hat[:, i] == 0)
    # the closed-form mutual information of this Gaussian channel is R(D)
    assert mutual_information_bits(SIGMA2, a, s2) == pytest.approx(rate_distortion(LAM, SIGMA2, D), abs=1e-12)


def test_mutual_information_equals_rate_for_random_problems():
    rng = np.random.default_rng(1)
    for _ in range(20):
        m = rng.integers(1, 8)
        lam, sigma2 = rng.gamma(1.0, 2.0, m), rng.gamma(1.0, 1.0, m)
        D = rng.uniform(0.01, 1.0) * np.sum(lam * sigma2)
        a, s2 = compressor(lam, sigma2, D)
        assert mutual_information_bits(sigma2, a, s2) == pytest.approx(rate_distortion(lam, sigma2, D), rel=1e-10)
        assert expected_distortion(lam, sigma2, a, s2) == pytest.approx(D, rel=1e-10)


@pytest.mark.parametrize("lam, sigma2, D", [([1, 2], [1], 1.0), ([0, 1], [1, 1], 1.0), ([1], [1], 0.0), ([1], [1], -1)])
def test_bad_inputs_are_refused(lam, sigma2, D):
    with pytest.raises(ValueError):
        rate_distortion(lam, sigma2, D)


def test_equal_thresholds_reduce_to_classic_reverse_water_filling():
    # λ = 1: Σ_X = I, so R(D) is the i.i.d. Gaussian source's m/2 · log₂(σ² m / D)
    assert rate_distortion([1.0, 1.0], [1.0, 1.0], 1.0) == pytest.approx(1.0)
    assert rate_distortion([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], 1.5) == pytest.approx(1.5 * np.log2(4))
    assert rate_distortion([1.0, 1.0], [1.0, 1.0], 2.0) == 0.0
