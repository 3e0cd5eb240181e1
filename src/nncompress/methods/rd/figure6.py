"""Figure 6 of paper 003 as data: the weighted water-filling R(D) of a linear Gaussian model with
its kinks, and a Monte Carlo check of Theorem 3's compressor (theory.py holds the mathematics).

For each checked distortion D: draw W ~ N(0, diag σ²) n times, pass it through the channel
Ŵ | W ~ N(aW, s²), and compare
- the mean distortion (W − Ŵ)ᵀ Σ_X (W − Ŵ) with D: its 99.9 % confidence interval
  (mean ± 3.29 s.e.) must hold D;
- the mutual information: the closed form Σ ½ log₂(Var Ŵ_i / s_i²) with R(D), and the plug-in
  estimate from the samples, −½ Σ log₂(1 − ρ̂_i²) over the coordinates sent (ρ̂ the sample
  correlation of W_i and Ŵ_i, the Gaussian channel's exact information), with R(D) within its
  delta-method 99.9 % interval; coordinates with D_i = σ_i² must come out exactly zero.
`operation=theory` of `method=rd` writes this as theory.json; the report draws it.
"""
from __future__ import annotations

import math

import numpy as np

from nncompress.methods.rd.theory import (
    compressor,
    expected_distortion,
    kinks,
    mutual_information_bits,
    rate_distortion,
    rate_distortion_curve,
    sample_compressed,
    water_filling,
)

Z = 3.29  # two-sided 99.9 % normal quantile


def check_distortion(lam, sigma2, D: float, n: int, rng: np.random.Generator) -> dict:
    lam, sigma2 = np.asarray(lam, float), np.asarray(sigma2, float)
    a, s2 = compressor(lam, sigma2, D)
    w = rng.standard_normal((n, lam.size)) * np.sqrt(sigma2)
    w_hat = sample_compressed(w, a, s2, rng)
    d = ((w - w_hat) ** 2 * lam).sum(1)
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(n))
    rate = float(rate_distortion(lam, sigma2, D))
    sent = a != 0
    rho2 = np.array([np.corrcoef(w[:, i], w_hat[:, i])[0, 1] ** 2 for i in np.flatnonzero(sent)])
    mi_hat = float(-0.5 * np.log2(1 - rho2).sum())
    # Var(ρ̂²) ≈ 4ρ²(1−ρ²)²/n, and d/dρ² of −½log₂(1−ρ²) is 1/(2 ln2 (1−ρ²))
    mi_se = float(math.sqrt(sum(4 * r * (1 - r) ** 2 / n / (2 * math.log(2) * (1 - r)) ** 2 for r in rho2)))
    full_zero = bool(np.all(w_hat[:, ~sent] == 0))
    return {"D": float(D), "rate_bits": rate, "levels": water_filling(lam, sigma2, D).levels.tolist(),
            "a": a.tolist(), "s2": s2.tolist(), "expected_distortion": expected_distortion(lam, sigma2, a, s2),
            "mc_distortion": mean, "mc_distortion_se": se, "distortion_in_ci": abs(mean - D) <= Z * se,
            "mi_closed_form_bits": mutual_information_bits(sigma2, a, s2), "mi_mc_bits": mi_hat,
            "mi_mc_se": mi_se, "mi_in_ci": abs(mi_hat - rate) <= Z * mi_se + 1e-12,
            "full_coordinates_zero": full_zero}


def figure6_data(lam, sigma2, distortions, n: int = 200_000, seed: int = 0, num: int = 400) -> dict:
    """The curve, the kinks and one Monte Carlo check per distortion (theory.json)."""
    d, r = rate_distortion_curve(lam, sigma2, num=num, d_min=1e-2 * float(np.sum(np.multiply(lam, sigma2))) / 3)
    rng = np.random.default_rng(seed)
    checks = [check_distortion(lam, sigma2, float(D), n, rng) for D in distortions]
    passed = all(c["distortion_in_ci"] and c["mi_in_ci"] and c["full_coordinates_zero"]
                 and abs(c["mi_closed_form_bits"] - c["rate_bits"]) < 1e-9 for c in checks)
    return {"lam": list(map(float, lam)), "sigma2": list(map(float, sigma2)), "mc_samples": int(n),
            "seed": int(seed), "curve": {"D": d.tolist(), "R": r.tolist()},
            "kinks": [{"D": k, "R": v} for k, v in kinks(lam, sigma2)], "checks": checks, "passed": passed}
