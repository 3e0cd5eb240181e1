"""MRC, ORC and PFR side by side on Gaussian blocks of a chosen KL: bits per block against the
block's KL and each coder's bound, the coded sample against the posterior, coding time.

    python -m nncompress.bench.rec_coders --kl 10 20 --dim 2 --blocks 200

Every block has q = N(mu, sigma^2) with the same per-dimension KL (block KL = --kl bits) and
p = N(0, rho^2), and its own keys (block index), so the B coded samples are B independent draws
of the coder's output law. Reported per coder:

- bits: MRC and ORC write log2 N bits (N = 2^KL, the papers' setting); PFR writes exp-Golomb
  codes at the best order for the B indices (`coding.expgolomb`), its search bounded by 2^(KL + 4);
  mean log2 K (K counted from 1) against Li & El Gamal's E[log2 K] <= KL + e^-1 log2 e + 1, the
  code against their KL + log2(KL + 1) + 4;
- tv: total variation between the samples' first coordinate and q's marginal on 10 bins of equal
  q-probability, next to `tv_exact`, that of B exact draws from q (sampling noise alone);
- kl_hist: the same histograms' KL(samples || q) in bits (bins with no sample add nothing);
- seconds per block (the eager search on this CPU).
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from scipy import stats
from scipy.optimize import brentq

from nncompress.coding import expgolomb, ordered
from nncompress.coding.mrc import materialise
from nncompress.coding.search import search_block

LI_EL_GAMAL = 1 + math.log2(math.e) / math.e


def posterior(kl_bits: float, dim: int, rho: float = 0.1):
    """mu, sigma (per dimension, equal) with KL(q || p) = kl_bits over `dim` dimensions, mu = 0.5 rho."""
    mu, per_dim = 0.5 * rho, kl_bits * math.log(2) / dim

    def kl(s):
        return math.log(rho / s) + (s * s + mu * mu) / (2 * rho * rho) - 0.5 - per_dim
    sigma = brentq(kl, 1e-12 * rho, 0.999 * rho)
    return torch.full((dim,), mu), torch.full((dim,), sigma), torch.full((dim,), rho)


def binned(samples: np.ndarray, mu: float, sigma: float, bins: int = 10):
    edges = stats.norm.ppf(np.linspace(0, 1, bins + 1)[1:-1], mu, sigma)
    freq = np.bincount(np.searchsorted(edges, samples), minlength=bins) / len(samples)
    nz = freq > 0
    return 0.5 * float(np.abs(freq - 1 / bins).sum()), float((freq[nz] * np.log2(freq[nz] * bins)).sum())


def run(kl_bits: int, dim: int, blocks: int, seed: int = 0, pfr_extra: int = 4) -> list:
    mu, sigma, rho = posterior(kl_bits, dim)
    rows = []
    for coder in ("mrc", "orc", "pfr"):
        t0, indices, first = time.perf_counter(), [], []
        for b in range(blocks):
            if coder == "mrc":
                k = search_block(seed, b, mu, sigma, rho, 1 << kl_bits).index
            else:
                n = 1 << (kl_bits + (pfr_extra if coder == "pfr" else 0))
                k = ordered.search_block(seed, b, mu, sigma, rho, n, coder, chunk=1 << 14).index
            indices.append(k)
            first.append(float(materialise(seed, b, k, rho)[0]))
        seconds = (time.perf_counter() - t0) / blocks
        tv, kl_hist = binned(np.array(first), float(mu[0]), float(sigma[0]))
        log_k = float(np.mean(np.log2(np.array(indices) + 1.0)))
        if coder == "pfr":
            cap = kl_bits + pfr_extra
            order = expgolomb.best_order(indices, cap)
            bits = sum(expgolomb.code_length(k, order) for k in indices) / blocks
            bound = kl_bits + math.log2(kl_bits + 1) + 4
        else:
            bits, bound, order = float(kl_bits), float(kl_bits), None
        rows.append({"coder": coder, "kl_bits": kl_bits, "dim": dim, "blocks": blocks, "bits": bits,
                     "bits_bound": bound, "mean_log2_K": log_k, "log2_K_bound": kl_bits + LI_EL_GAMAL,
                     "golomb_order": order, "tv": tv, "kl_hist_bits": kl_hist, "seconds_per_block": seconds})
    exact = np.random.default_rng(seed).normal(float(mu[0]), float(sigma[0]), blocks)
    tv0, kl0 = binned(exact, float(mu[0]), float(sigma[0]))
    for r in rows:
        r["tv_exact"], r["kl_hist_exact_bits"] = tv0, kl0
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kl", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--blocks", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = [r for kl in args.kl for r in run(kl, args.dim, args.blocks, args.seed)]
    print(f"{'coder':5} {'KL':>4} {'bits':>7} {'bound':>7} {'log2K':>7} {'K bound':>7} {'TV':>6} {'TV q':>6} "
          f"{'KLhist':>7} {'s/block':>8}")
    for r in rows:
        print(f"{r['coder']:5} {r['kl_bits']:4d} {r['bits']:7.2f} {r['bits_bound']:7.2f} {r['mean_log2_K']:7.2f} "
              f"{r['log2_K_bound']:7.2f} {r['tv']:6.3f} {r['tv_exact']:6.3f} {r['kl_hist_bits']:7.4f} "
              f"{r['seconds_per_block']:8.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
