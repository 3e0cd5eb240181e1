"""core.divergence: the binned TV / KL estimator against closed forms (two Gaussians, exact draws)."""
import math

import numpy as np
import pytest
from scipy import stats

from nncompress.core import divergence as D


def test_closed_forms_of_two_gaussians():
    # equal variances: 2 Phi(|dm| / 2s) - 1; KL = dm^2 / 2s^2 nats
    assert D.gaussian_tv(0.5, 1.0, 0.0, 1.0) == pytest.approx(2 * stats.norm.cdf(0.25) - 1, abs=1e-15)
    assert D.gaussian_kl(0.5, 1.0, 0.0, 1.0) == pytest.approx(0.125 / math.log(2), abs=1e-15)
    # unequal variances: continuous in s1 -> s2, and a direct quadrature of 1/2 int |p1 - p2|
    assert D.gaussian_tv(0.5, 1.0 + 1e-7, 0.0, 1.0) == pytest.approx(D.gaussian_tv(0.5, 1.0, 0.0, 1.0), abs=1e-6)
    x = np.linspace(-12, 12, 400001)
    quad = 0.5 * np.trapezoid(np.abs(stats.norm.pdf(x, 0.3, 1.2) - stats.norm.pdf(x)), x)
    assert D.gaussian_tv(0.3, 1.2, 0.0, 1.0) == pytest.approx(quad, abs=1e-9)
    assert D.gaussian_kl(0.3, 1.2, 0.0, 1.0) == pytest.approx(
        (math.log(1 / 1.2) + (1.44 + 0.09) / 2 - 0.5) / math.log(2), abs=1e-15)


def test_binning_loses_divergence_and_recovers_it_with_many_bins():
    tv, kl = D.gaussian_tv(0.3, 1.2, 0.0, 1.0), D.gaussian_kl(0.3, 1.2, 0.0, 1.0)
    tv10, kl10 = D.gaussian_binned(0.3, 1.2, 10)
    assert tv10 < tv and kl10 < kl  # data processing
    tv_many, kl_many = D.gaussian_binned(0.3, 1.2, 4000)
    assert tv_many == pytest.approx(tv, abs=2e-3) and kl_many == pytest.approx(kl, abs=5e-3)
    assert D.gaussian_binned(0.0, 1.0, 10) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_estimator_converges_to_the_binned_value():
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 1.2, size=(400_000, 1))
    tv, kl = D.binned(D.transforms(x, np.zeros(1), np.ones(1))["marginal"], 10)
    exact_tv, exact_kl = D.gaussian_binned(0.3, 1.2, 10)
    assert tv == pytest.approx(exact_tv, abs=3e-3) and kl == pytest.approx(exact_kl, abs=3e-3)
    # whitening: the same law around another mean and scale gives the same statistic
    y = 5.0 + 0.01 * x
    assert D.binned(D.transforms(y, np.full(1, 5.0), np.full(1, 0.01))["marginal"], 10) == pytest.approx((tv, kl))


def test_floor_closed_forms_and_exact_draws():
    # one draw fills one bin: TV = 1 - 1/M, KL = log2 M, exactly
    assert D.floor(1, 10) == pytest.approx((0.9, math.log2(10)), abs=1e-12)
    # two draws, two bins: same bin with prob 1/2 (TV 1/2, KL 1 bit), else TV 0, KL 0
    assert D.floor(2, 2) == pytest.approx((0.25, 0.5), abs=1e-12)
    # the mean over many sets of exact draws (d = 3: marginal and radial) is the floor
    rng = np.random.default_rng(1)
    mu, sigma = np.array([0.1, -2.0, 3.0]), np.array([1e-3, 2.0, 0.5])
    stats_ = [{k: D.binned(u, 10) for k, u in D.transforms(mu + sigma * rng.normal(size=(200, 3)), mu, sigma).items()}
              for _ in range(800)]
    tv0, kl0 = D.floor(200, 10)
    for key in ("marginal", "radial"):
        tvs = np.array([s[key][0] for s in stats_])
        kls = np.array([s[key][1] for s in stats_])
        assert tvs.mean() == pytest.approx(tv0, abs=4 * tvs.std() / np.sqrt(len(tvs)))
        assert kls.mean() == pytest.approx(kl0, abs=4 * kls.std() / np.sqrt(len(kls)))
