"""MRC, ORC and PFR on Gaussian blocks of a chosen KL, where the posterior is known exactly: bits
per block against each coder's bound, and the law of the coded sample against the posterior.

Every block has q = N(mu, sigma^2 I) and p = N(0, rho^2 I) in d dimensions, mu = rho / 2 and sigma
set so that KL(q || p) = the chosen bits (`posterior`), and its own keys (block index b, seed), so
the B coded samples are B independent draws of the coder's output law. The coders:

    mrc  N = 2^KL candidates (the papers' setting: t = 0 extra bits), index of KL bits
    orc  the same N and index width, ordered noise (coding.ordered)
    pfr  the search bounded by N = 2^(KL + extra); the index in the exp-Golomb code of the best
         order for the B indices (coding.expgolomb)
    sppfr  space-partitioned PFR (coding.partition): J = 2^(KL - SP_SLACK) bins of equal prior mass,
         the bin in log2 J bits and the arrival within it in the exp-Golomb code of the best order;
         unbounded and exact, its search visits only the bins near q

Bits are compared with the bounds: MRC and ORC write exactly KL + t bits (t = 0); PFR's mean
log2 (K + 1) (K counted from 0) with Li & El Gamal's E[log2 K] <= KL + e^-1 log2 e + 1 (2018,
proof of Theorem 1), its code with their expected length <= KL + log2(KL + 1) + 4 (Theorem 1).
The coded sample's distance to q: `core.divergence` (binned TV and KL of probability integral
transforms, beside the exact floor of B draws from q itself).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.optimize import brentq

from nncompress.coding import expgolomb, ordered, partition
from nncompress.coding.mrc import materialise
from nncompress.coding.search import prepare_fused, search_block
from nncompress.core import divergence

LI_EL_GAMAL_LOG2K = 1 + math.log2(math.e) / math.e  # E[log2 K] - KL <= this
SP_SLACK = 2  # sppfr: J = 2^(KL - this) bins, so that a bin holds ~2^this of PFR's arrivals near q
CODERS = ("mrc", "orc", "pfr", "sppfr")


def pfr_code_bound(kl_bits: float) -> float:
    """Li & El Gamal (2018), Theorem 1: expected code length <= I + log2(I + 1) + 4 bits."""
    return kl_bits + math.log2(kl_bits + 1) + 4


def posterior(kl_bits: float, dim: int, rho: float = 0.1):
    """(mu, sigma, rho) tensors of `dim` equal dimensions with KL(q || p) = kl_bits, mu = rho / 2."""
    mu, per_dim = 0.5 * rho, kl_bits * math.log(2) / dim

    def kl(s):
        return math.log(rho / s) + (s * s + mu * mu) / (2 * rho * rho) - 0.5 - per_dim
    sigma = brentq(kl, 1e-300, 0.999 * rho, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    return torch.full((dim,), mu, dtype=torch.float64), torch.full((dim,), sigma, dtype=torch.float64), \
        torch.full((dim,), rho, dtype=torch.float64)


def coded(coder: str, kl_bits: int, dim: int, blocks: int, seed: int = 0, pfr_extra: int = 2,
          fused: bool = False) -> dict:
    """One coder's indices, samples (B x d, float64) and seconds per block on these blocks.
    fused: pass 1 by the compiled kernel (the same indices; KL >= 16 bits is hours eager), its build
    timed apart from the blocks. sppfr: indices are (bin, arrival), log2n the partition bits."""
    mu, sigma, rho = posterior(kl_bits, dim)
    if coder == "sppfr":
        return _coded_partitioned(mu, sigma, rho, max(0, kl_bits - SP_SLACK), blocks, seed)
    log2n = kl_bits + (pfr_extra if coder == "pfr" else 0)
    chunk = 1 << (16 if fused or coder == "mrc" else 14)  # memory only: the indices do not depend on it
    if fused:
        prepare_fused("cpu", dim, 1 << log2n, chunk, "sample" if coder == "mrc" else "argmax")
    t0, indices, samples = time.perf_counter(), [], []
    for b in range(blocks):
        if coder == "mrc":
            k = search_block(seed, b, mu.float(), sigma.float(), rho.float(), 1 << log2n, chunk=chunk,
                             fused=fused, pad_to=dim).index
        else:
            k = ordered.search_block(seed, b, mu.float(), sigma.float(), rho.float(), 1 << log2n, coder,
                                     chunk=chunk, fused=fused, pad_to=dim).index
        indices.append(k)
        samples.append(materialise(seed, b, k, rho.float()).double().numpy())
    return {"indices": indices, "samples": np.stack(samples), "log2n": log2n,
            "seconds_per_block": (time.perf_counter() - t0) / blocks, "mu": mu.numpy(), "sigma": sigma.numpy()}


def _coded_partitioned(mu, sigma, rho, bits: int, blocks: int, seed: int) -> dict:
    t0, indices, samples, searched = time.perf_counter(), [], [], 0
    per_dim = partition.bits_per_dim(len(mu), bits)
    for b in range(blocks):
        r = partition.search_block(seed, b, mu, sigma, rho, bits)
        indices.append((r.bin, r.arrival))
        samples.append(partition.points(seed, b, r.bin, r.arrival, 1, rho, per_dim)[0].numpy())
        searched += r.searched
    return {"indices": indices, "samples": np.stack(samples), "log2n": bits, "searched": searched / blocks,
            "seconds_per_block": (time.perf_counter() - t0) / blocks, "mu": mu.numpy(), "sigma": sigma.numpy()}


def row(coder: str, kl_bits: int, dim: int, blocks: int, seed: int = 0, pfr_extra: int = 2, bins: int = 10,
        fused: bool = False) -> dict:
    """Bits, bounds and the coded sample's binned TV / KL (bits) against q, for one coder."""
    c = coded(coder, kl_bits, dim, blocks, seed, pfr_extra, fused)
    idx = c["indices"]
    if coder == "sppfr":  # the bin in log2 J bits, the arrival in the best exp-Golomb order
        arrivals = [n for _, n in idx]
        order = expgolomb.best_order(arrivals, 32)
        bits = c["log2n"] + sum(expgolomb.code_length(n, order) for n in arrivals) / blocks
        bound = pfr_code_bound(kl_bits)
        log2k = c["log2n"] + np.log2(np.array(arrivals) + 1.0)  # log2(J (n + 1)): PFR's log2 K, bin by bin
    else:
        log2k = np.log2(np.array(idx) + 1.0)
        if coder == "pfr":
            order = expgolomb.best_order(idx, c["log2n"])
            bits, bound = sum(expgolomb.code_length(k, order) for k in idx) / blocks, pfr_code_bound(kl_bits)
        else:
            bits = bound = float(kl_bits)
    out = {"coder": coder, "kl_bits": kl_bits, "dim": dim, "blocks": blocks, "candidates_log2": c["log2n"],
           "bits": bits, "bits_bound": bound, "mean_log2_K": float(np.mean(log2k)),
           "log2_K_bound": kl_bits + LI_EL_GAMAL_LOG2K, "seconds_per_block": c["seconds_per_block"]}
    for name, u in divergence.transforms(c["samples"], c["mu"], c["sigma"]).items():
        out[f"tv_{name}"], out[f"kl_{name}_bits"] = divergence.binned(u, bins)
    out["tv_floor"], out["kl_floor_bits"] = divergence.floor(blocks, bins)
    if "searched" in c:
        out["searched"] = c["searched"]
    return out


def table(kl_bits, dims, blocks: int, seed: int = 0, pfr_extra: int = 2, bins: int = 10, fused: bool = False,
          coders=CODERS) -> list:
    """`row` for every coder in `coders`, KL in kl_bits and dimension in dims."""
    return [row(c, int(k), int(d), blocks, seed, pfr_extra, bins, fused) for k in kl_bits for d in dims
            for c in coders]
