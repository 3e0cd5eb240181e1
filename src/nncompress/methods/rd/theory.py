"""Rate-distortion theory of paper 003 for a linear model (section 4, appendix A, Figure 6).

Model f_w(x) = wᵀx with E[X] = 0, Σ_X = diag(λ), weights W ~ N(0, diag σ²), distortion
d(w, ŵ) = (w − ŵ)ᵀ Σ_X (w − ŵ).

Theorem 2 (weighted water-filling): R(D) = Σ_i ½ log₂(σ_i² / D_i) bits with
    D_i = min(μ/λ_i, σ_i²),   μ chosen so that Σ_i λ_i D_i = Σ_i min(μ, λ_i σ_i²) = D.
g(μ) = Σ_i min(μ, t_i), t_i = λ_i σ_i², is piecewise linear and increasing: with t sorted and
prefix sums P_j = t_(1) + … + t_(j), on [t_(j), t_(j+1)] it is P_j + (m − j) μ. So μ is found exactly
by locating D among the breakpoints B_j = P_j + (m − j) t_(j+1) (a binary search) and solving
that linear piece; the B_j are the kinks of R(D), and R = 0 from D = Σ t_i on.
Example (Figure 6, λ = σ² = (3, 2, 1)): R = log₂6 − 1.5 log₂(D/3) on (0, 3], log₂(12/(D − 1)) on
[3, 9], ½ log₂(9/(D − 5)) on [9, 14], 0 beyond.

Theorem 3 (achievability, Algorithm 1 with its branches the right way round — as printed they are
swapped, REFERENCE.md §4): independently per coordinate, the backward channel W_i = Ŵ_i + Z_i with
Ŵ_i ~ N(0, σ_i² − D_i) ⟂ Z_i ~ N(0, D_i), i.e. the forward channel
    Ŵ_i | W_i ~ N(a_i W_i, s_i²),   a_i = 1 − D_i/σ_i²,   s_i² = D_i (1 − D_i/σ_i²),
which is Ŵ_i = 0 where D_i = σ_i². Then E[(W_i − Ŵ_i)²] = (1 − a_i)² σ_i² + s_i² = D_i, so
E d = Σ λ_i D_i = D, and for the jointly Gaussian pair
    I(W_i; Ŵ_i) = −½ log₂(1 − ρ_i²) = ½ log₂((a_i² σ_i² + s_i²) / s_i²) = ½ log₂(σ_i²/D_i),
summing to R(D) (independent coordinates and a product channel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class WaterFilling:
    rate_bits: np.ndarray   # R(D), shape of D
    levels: np.ndarray      # D_i, shape (*D.shape, m)
    mu: np.ndarray          # water level μ, shape of D


def _check(lam, sigma2) -> tuple[np.ndarray, np.ndarray]:
    lam, sigma2 = np.asarray(lam, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    if lam.ndim != 1 or lam.shape != sigma2.shape or lam.size == 0:
        raise ValueError(f"λ and σ² must be 1-D of the same length, got {lam.shape} and {sigma2.shape}")
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(sigma2)) and np.all(lam > 0) and np.all(sigma2 > 0)):
        raise ValueError("λ and σ² must be finite and positive")
    return lam, sigma2


def breakpoints(lam, sigma2) -> np.ndarray:
    """B_j, j < m: the distortions where one more coordinate is exactly full (ascending; last = D_max)."""
    lam, sigma2 = _check(lam, sigma2)
    t = np.sort(lam * sigma2)
    prefix = np.concatenate(([0.0], np.cumsum(t)[:-1]))
    return prefix + (t.size - np.arange(t.size)) * t


def water_filling(lam, sigma2, D) -> WaterFilling:
    """Theorem 2 for any λ, σ² and distortion(s) D > 0, exactly."""
    lam, sigma2 = _check(lam, sigma2)
    D = np.asarray(D, dtype=np.float64)
    if not np.all(np.isfinite(D)) or np.any(D <= 0):
        raise ValueError("the distortion D must be positive and finite (R(0) is infinite)")
    t = np.sort(lam * sigma2)
    m = t.size
    prefix = np.concatenate(([0.0], np.cumsum(t)))
    j = np.searchsorted(breakpoints(lam, sigma2), D, side="left")  # first piece whose end is ≥ D
    full = j >= m
    jj = np.minimum(j, m - 1)
    mu = np.where(full, t[-1], (D - prefix[jj]) / (m - jj))
    levels = np.minimum(mu[..., None] / lam, sigma2)
    rate = 0.5 * np.log2(sigma2 / levels).sum(-1)
    return WaterFilling(rate, levels, mu)


def rate_distortion(lam, sigma2, D) -> np.ndarray:
    """R(D) in bits (Theorem 2)."""
    return water_filling(lam, sigma2, D).rate_bits


def kinks(lam, sigma2) -> list[tuple[float, float]]:
    """(D, R) at the breakpoints of R(D), the last one being (Σ λσ², 0)."""
    b = np.unique(breakpoints(lam, sigma2))
    return [(float(d), float(r)) for d, r in zip(b, rate_distortion(lam, sigma2, b))]


def rate_distortion_curve(lam, sigma2, num: int = 200, d_min: float | None = None,
                          d_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(D, R) for plotting: a log grid on [d_min, d_max] merged with the kinks, so the plotted
    segments meet exactly where Theorem 2's pieces do. Defaults: d_min = D_max/1000, d_max =
    1.1·D_max with D_max = Σ λσ² (where R reaches 0)."""
    total = float(breakpoints(lam, sigma2)[-1])
    lo, hi = d_min or total / 1000, d_max or 1.1 * total
    if not 0 < lo < hi or num < 2:
        raise ValueError(f"need 0 < d_min < d_max and num >= 2, got {lo}, {hi}, {num}")
    d = np.union1d(np.geomspace(lo, hi, num), [k for k, _ in kinks(lam, sigma2) if lo <= k <= hi])
    return d, rate_distortion(lam, sigma2, d)


def compressor(lam, sigma2, D) -> tuple[np.ndarray, np.ndarray]:
    """Theorem 3's channel Ŵ_i | W_i ~ N(a_i W_i, s_i²): returns (a, s²) for one distortion D."""
    _, sigma2 = _check(lam, sigma2)
    levels = water_filling(lam, sigma2, float(D)).levels
    a = np.clip(1.0 - levels / sigma2, 0.0, 1.0)  # exactly 0 where the coordinate is full
    return a, levels * a


def sample_compressed(w: np.ndarray, a: np.ndarray, s2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw Ŵ given rows of W (shape (..., m)) through the channel (a, s²)."""
    return a * w + np.sqrt(s2) * rng.standard_normal(np.shape(w))


def mutual_information_bits(sigma2, a, s2) -> float:
    """I(W; Ŵ) in bits for W ~ N(0, diag σ²) through the channel (a, s²): Σ ½ log₂(Var Ŵ_i / s_i²)."""
    sigma2, a, s2 = (np.asarray(v, dtype=np.float64) for v in (sigma2, a, s2))
    sent = a != 0  # Ŵ_i = 0 carries no information
    return float(0.5 * np.log2((a[sent] ** 2 * sigma2[sent] + s2[sent]) / s2[sent]).sum())


def expected_distortion(lam, sigma2, a, s2) -> float:
    """E (W − Ŵ)ᵀ Σ_X (W − Ŵ) = Σ λ_i ((1 − a_i)² σ_i² + s_i²) for the channel (a, s²)."""
    lam, sigma2 = _check(lam, sigma2)
    return float(np.sum(lam * ((1 - np.asarray(a)) ** 2 * sigma2 + np.asarray(s2))))
