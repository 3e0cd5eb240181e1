"""How far a coder's samples are from a Gaussian posterior: binned TV and KL with their exact
sampling floor, and the closed forms for two 1-D Gaussians that test them.

The estimator (used by `coding.gaussian_coders`, the coders' report and `bench.rec_coders`). B
samples w_b in R^d, each an independent draw of the coder's output law (block b has its own
keys), are compared with the posterior q = N(mu, diag sigma^2) through probability integral
transforms, which are Uniform(0, 1) exactly when w ~ q:

    marginal  u_b = Phi((w_b1 - mu_1) / sigma_1)                      (the first coordinate)
    radial    v_b = F_chi2(d)(sum_i ((w_bi - mu_i) / sigma_i)^2)      (d > 1: the joint law's radius)

Each is binned into M bins of equal q-probability, f_j = n_j / B, and

    TV^ = 1/2 sum_j |f_j - 1/M|          KL^ = sum_j f_j log2(f_j M)   (bits; empty bins add 0)

These are the TV and KL between the binned laws: by data processing at most those between the
coder's law and q (the binned `gaussian_binned` of a Gaussian law against its closed forms shows
how much binning loses), plus sampling noise, whose size is the exact floor `floor(B, M)`: the
expected TV^ and KL^ of B exact draws from q (n ~ Multinomial(B, 1/M); a finite sum).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def transforms(samples: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> dict:
    """{"marginal": u, "radial": v (d > 1 only)} of B x d samples (module docstring)."""
    x = (np.asarray(samples, dtype=float).reshape(len(samples), -1) - mu) / sigma
    out = {"marginal": stats.norm.cdf(x[:, 0])}
    if x.shape[1] > 1:
        out["radial"] = stats.chi2.cdf((x * x).sum(1), x.shape[1])
    return out


def binned(u: np.ndarray, bins: int = 10) -> tuple:
    """(TV^, KL^ in bits) of transformed samples u in [0, 1] against Uniform(0, 1) on `bins` equal bins."""
    f = np.bincount(np.minimum((np.asarray(u) * bins).astype(int), bins - 1), minlength=bins) / len(u)
    nz = f > 0
    return 0.5 * float(np.abs(f - 1.0 / bins).sum()), float((f[nz] * np.log2(f[nz] * bins)).sum())


def floor(n: int, bins: int = 10) -> tuple:
    """(E TV^, E KL^ in bits) of n exact draws from q: each bin count is Binomial(n, 1/M), so
    E TV^ = M/2 E|N/n - 1/M| and E KL^ = M E[(N/n) log2(N M / n)], summed over N = 0..n."""
    k = np.arange(n + 1)
    pmf = stats.binom.pmf(k, n, 1.0 / bins)
    f = k / n
    tv = 0.5 * bins * float((pmf * np.abs(f - 1.0 / bins)).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(k > 0, f * np.log2(np.where(k > 0, f * bins, 1.0)), 0.0)
    return tv, bins * float((pmf * term).sum())


def gaussian_binned(mean: float, std: float, bins: int = 10) -> tuple:
    """(TV, KL in bits) between N(mean, std^2) and N(0, 1), both binned into the M bins of equal
    N(0, 1)-probability: what `binned` estimates from draws of N(mean, std^2), exactly."""
    edges = stats.norm.ppf(np.linspace(0.0, 1.0, bins + 1))
    p = np.diff(stats.norm.cdf(edges, mean, std))
    nz = p > 0
    return 0.5 * float(np.abs(p - 1.0 / bins).sum()), float((p[nz] * np.log2(p[nz] * bins)).sum())


def gaussian_kl(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1^2) || N(m2, s2^2)) in bits: ln(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2 nats."""
    return (math.log(s2 / s1) + (s1 * s1 + (m1 - m2) ** 2) / (2 * s2 * s2) - 0.5) / math.log(2)


def gaussian_tv(m1: float, s1: float, m2: float, s2: float) -> float:
    """TV between N(m1, s1^2) and N(m2, s2^2): 2 Phi(|m1 - m2| / (2 s)) - 1 for s1 = s2 = s; otherwise
    sum over the regions between the (at most two) points where the densities cross of |P1 - P2| / 2."""
    if s1 == s2:
        return 2.0 * stats.norm.cdf(abs(m1 - m2) / (2.0 * s1)) - 1.0
    # log densities equal: a x^2 + b x + c = 0
    a = 1.0 / (2 * s2 * s2) - 1.0 / (2 * s1 * s1)
    b = m1 / (s1 * s1) - m2 / (s2 * s2)
    c = m2 * m2 / (2 * s2 * s2) - m1 * m1 / (2 * s1 * s1) + math.log(s2 / s1)
    disc = math.sqrt(b * b - 4 * a * c)
    roots = sorted(((-b - disc) / (2 * a), (-b + disc) / (2 * a)))
    edges = [-math.inf, *roots, math.inf]
    diff = [stats.norm.cdf(hi, m1, s1) - stats.norm.cdf(lo, m1, s1) - stats.norm.cdf(hi, m2, s2)
            + stats.norm.cdf(lo, m2, s2) for lo, hi in zip(edges[:-1], edges[1:])]
    return 0.5 * float(sum(abs(d) for d in diff))
