"""ORC and PFR (coding/ordered.py): the selection law against brute force, the certified early
stop, the exact noise, PFR's expected index length against its closed form and Li & El Gamal's
bound, and the coded sample against the posterior on 1-D Gaussians."""
import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from nncompress.coding import ordered
from nncompress.coding.search import Coefficients, candidate_key, selection_key
from nncompress.core import generator as G

LOG2E_OVER_E = math.log2(math.e) / math.e  # Li & El Gamal: E[log2 K] <= KL + e^-1 log2 e + 1


def _block(dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(dim, generator=g) * 0.05, torch.rand(dim, generator=g) * 0.05 + 0.02, torch.full((dim,), 0.1))


def _brute(seed, b, mu, sigma, rho, n, law):
    """Index of the law by the definition, all in float64 (the float32 candidates the decoder rebuilds)."""
    w = rho.double() * G.normals(candidate_key(seed, b), 0, n, len(mu), dtype=torch.float64).float().double()
    lr = (torch.distributions.Normal(mu.double(), sigma.double()).log_prob(w)
          - torch.distributions.Normal(0.0, rho.double()).log_prob(w)).sum(1)
    k = torch.arange(n)
    x = -torch.log(G.to_uniform(G.uint32(selection_key(seed, b), k), torch.float64))
    if law == "orc":
        x = x / (n - k).double()
    return int(torch.argmax(lr - torch.log(torch.cumsum(x, 0))))


@pytest.mark.parametrize("law", ordered.LAWS)
def test_index_is_the_definition_by_brute_force_for_any_chunking(law):
    for b in range(12):
        mu, sigma, rho = _block(seed=b)
        want = _brute(0, b, mu, sigma, rho, 4096, law)
        assert ordered.search_block(0, b, mu, sigma, rho, 4096, law, chunk=4096, stop=False).index == want
        assert ordered.search_block(0, b, mu, sigma, rho, 4096, law, chunk=300).index == want


def test_orc_and_pfr_agree_far_below_n_and_differ_near_it():
    # For k << N, ORC's T_k is PFR's divided by N: the same argmax. With N close to exp(KL) the
    # index reaches the top of the range, where the weights 1/(N - i) grow, and the laws part.
    far = [(ordered.search_block(1, b, *_block(1, b), 1 << 12, "orc", chunk=1024).index,
            ordered.search_block(1, b, *_block(1, b), 1 << 12, "pfr", chunk=1024).index) for b in range(20)]
    assert all(o == p for o, p in far if p < 16)
    near = [ordered.search_block(1, b, *_block(8, b), 8, "orc").index
            != ordered.search_block(1, b, *_block(8, b), 8, "pfr").index for b in range(40)]
    assert 0 < sum(near) < 40


def test_max_log_ratio_bounds_every_candidate():
    for b in range(6):
        mu, sigma, rho = _block(dim=3, seed=b)
        sigma[0] = 0.2  # sigma > rho: the log-ratio grows with |z|, bounded by the generator's range
        w = rho * G.normals(candidate_key(0, b), 0, 1 << 14, 3, dtype=torch.float64).float()
        coef = Coefficients.of(mu, sigma, rho)
        z = (w / rho).double()
        lr = coef.c + ((coef.a * z + coef.b) * z).sum(1)
        assert float(lr.max()) <= ordered.max_log_ratio(coef)
    assert float(G.normals(123, 0, 1 << 16, 2, dtype=torch.float64).abs().max()) < ordered.Z_MAX


def test_early_stop_gives_the_full_search_index_and_stops_pfr_in_one_dimension():
    mu, sigma, rho = torch.tensor([0.05]), torch.tensor([0.01]), torch.tensor([0.1])
    for b in range(8):
        full = ordered.search_block(2, b, mu, sigma, rho, 1 << 14, "pfr", chunk=1024, stop=False)
        short = ordered.search_block(2, b, mu, sigma, rho, 1 << 14, "pfr", chunk=1024)
        assert short.index == full.index and short.searched < 1 << 14


def test_exact_noise_within_the_float64_bound():
    skey, n = selection_key(5, 9), 1 << 12
    for law in ordered.LAWS:
        t = torch.cumsum(ordered._increments(skey, 0, n, n, law), 0)
        for k in (0, 7, 100, n - 1):
            exact = float(ordered.exact_log_noise(skey, k, n, law))
            approx = math.log(float(t[k]))
            bound = float(ordered.noise_bound(torch.tensor([k]), torch.tensor([approx]))[0])
            assert abs(exact - approx) <= bound
            assert abs(exact - approx) < 1e-12


def test_bad_arguments():
    with pytest.raises(ValueError, match="law"):
        ordered.search_block(0, 0, *_block(), 16, "mrc")
    with pytest.raises(ValueError, match="n_candidates"):
        ordered.search_block(0, 0, *_block(), 0, "pfr")


# -- PFR's index length: closed form and bound ---------------------------------------------------


def pfr_expected_log2_index(mu: float, sigma: float, rho: float) -> float:
    """E[log2 K] (K counted from 1) of exact PFR for q = N(mu, sigma^2), p = N(0, rho^2), sigma < rho.

    With S = T_K / r(Y_K) ~ Exp(1) and Y_K ~ q independent (Li & El Gamal 2018), the points before
    K are those with T < S r(Y_K) and T / r(Y) > S: given S = s, Y_K = y, K - 1 ~ Poisson(s g(y)),
    g(y) = E_p[(r(y) - r(W))_+] = r(y) P(A_y) - Q(A_y), A_y = {w: r(w) < r(y)} = {|w - w0| > |y - w0|},
    w0 = mu rho^2 / (rho^2 - sigma^2) the mode of r. Integrated over y on a fine grid and over s by
    Gauss-Laguerre."""
    w0 = mu * rho**2 / (rho**2 - sigma**2)
    ys = np.linspace(mu - 9 * sigma, mu + 9 * sigma, 3601)
    wy = stats.norm.pdf(ys, mu, sigma)
    wy /= wy.sum()
    d = np.abs(ys - w0)
    r = np.exp(stats.norm.logpdf(ys, mu, sigma) - stats.norm.logpdf(ys, 0, rho))
    g = (r * (stats.norm.cdf(w0 - d, 0, rho) + stats.norm.sf(w0 + d, 0, rho))
         - (stats.norm.cdf(w0 - d, mu, sigma) + stats.norm.sf(w0 + d, mu, sigma)))
    s, ws = special.roots_laguerre(48)
    lam = np.outer(g, s).ravel()
    weight = np.outer(wy, ws).ravel()
    # f(l) = E[log2(1 + Poisson(l))], smooth in log l: exact on a grid, interpolated in between
    grid = np.geomspace(1e-8, max(lam.max(), 1e-8) * 1.01, 400)
    n = np.arange(int(grid[-1] + 12 * math.sqrt(grid[-1]) + 40))
    f = np.array([stats.poisson.pmf(n, x) @ np.log2(1 + n) for x in grid])
    return float(weight @ np.interp(np.log(np.maximum(lam, 1e-8)), np.log(grid), f))


def _gaussian_kl_bits(mu, sigma, rho):
    return (math.log(rho / sigma) + (sigma**2 + mu**2) / (2 * rho**2) - 0.5) / math.log(2)


@pytest.mark.parametrize("kl_bits", [2.0, 5.0])
def test_pfr_mean_log_index_matches_the_closed_form_and_the_bound(kl_bits):
    """Mean of log2 K over 500 blocks (independent keys) of one 1-D Gaussian, every search stopped
    early (exact PFR): within 4 standard errors of the closed form, and below KL + e^-1 log2 e + 1."""
    from scipy.optimize import brentq

    rho = 0.1
    mu = 0.5 * rho
    sigma = brentq(lambda s: _gaussian_kl_bits(mu, s, rho) - kl_bits, 1e-6, 0.99 * rho)
    found = [ordered.search_block(11, b, torch.tensor([mu]), torch.tensor([sigma]), torch.tensor([rho]), 1 << 20,
                                  "pfr", chunk=512) for b in range(500)]
    assert all(f.searched < 1 << 20 for f in found)
    log_k = np.log2([f.index + 1.0 for f in found])
    want = pfr_expected_log2_index(mu, sigma, rho)
    assert abs(log_k.mean() - want) < 4 * log_k.std() / math.sqrt(len(log_k)), (log_k.mean(), want)
    assert want <= kl_bits + 1 + LOG2E_OVER_E
    assert log_k.mean() <= kl_bits + 1 + LOG2E_OVER_E


# -- the coded sample against the posterior (1-D, exact bin probabilities) ------------------------


def coded_samples(law: str, n_candidates: int, mu, sigma, rho, blocks: int, seed: int = 0) -> np.ndarray:
    from nncompress.coding.mrc import materialise
    from nncompress.coding.search import search_block

    t = [torch.tensor([v]) for v in (mu, sigma, rho)]
    out = []
    for b in range(blocks):
        if law == "mrc":
            k = search_block(seed, b, *t, n_candidates, chunk=1024).index
        else:
            k = ordered.search_block(seed, b, *t, n_candidates, law, chunk=1024).index
        out.append(float(materialise(seed, b, k, t[2])[0]))
    return np.array(out)


def binned_tv(samples: np.ndarray, mu: float, sigma: float, bins: int = 10) -> float:
    """Total variation between the samples' histogram and q = N(mu, sigma^2) on `bins` bins of equal
    q-probability (exact: 1/bins each)."""
    edges = stats.norm.ppf(np.linspace(0, 1, bins + 1)[1:-1], mu, sigma)
    counts = np.bincount(np.searchsorted(edges, samples), minlength=bins) / len(samples)
    return 0.5 * float(np.abs(counts - 1.0 / bins).sum())


def test_pfr_sample_follows_the_posterior_and_mrc_with_few_candidates_does_not():
    """KL 4 bits: exact PFR's samples pass a KS test against q; MRC with 2^2 candidates (KL - 2
    bits) is far from q, ORC with the same candidates no worse than MRC."""
    mu, rho = 0.05, 0.1
    sigma = 0.0043  # KL(q || p) = 4.0 bits
    assert _gaussian_kl_bits(mu, sigma, rho) == pytest.approx(4.0, abs=0.01)
    pfr_s = coded_samples("pfr", 1 << 20, mu, sigma, rho, 400)
    assert stats.kstest(pfr_s, "norm", args=(mu, sigma)).pvalue > 0.01
    assert binned_tv(pfr_s, mu, sigma) < 0.1  # sampling noise alone: ~0.06 at 400 draws
    mrc_s = coded_samples("mrc", 4, mu, sigma, rho, 400)
    orc_s = coded_samples("orc", 4, mu, sigma, rho, 400)
    assert binned_tv(mrc_s, mu, sigma) > 0.3
    assert binned_tv(orc_s, mu, sigma) <= binned_tv(mrc_s, mu, sigma) + 0.05


@pytest.mark.parametrize("law", ordered.LAWS)
def test_undecided_candidates_are_resolved_by_the_exact_noise(law, monkeypatch):
    """With the float64 noise made useless (a bound of 0.5 nats), pass 2 must fall back on mpmath for
    the candidates it cannot order, and still select the definition's index."""
    monkeypatch.setattr(ordered, "noise_bound", lambda k, log_t: torch.full_like(log_t, 0.5))
    resolved = 0
    for b in range(4):
        mu, sigma, rho = _block(dim=2, seed=b)
        found = ordered.search_block(0, b, mu, sigma, rho, 512, law, chunk=128)
        assert found.index == _brute(0, b, mu, sigma, rho, 512, law)
        resolved += found.resolved
    assert resolved >= 3
