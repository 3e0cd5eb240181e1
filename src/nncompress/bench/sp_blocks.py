"""Space-partitioned PFR on a trained run's blocks: why it has no network codec.

An exact PFR search needs about 2^D_inf points, D_inf = log2 sup q/p; for one dimension of
q = N(mu, sigma^2) under p = N(0, rho^2), sigma < rho, the sup is at x = mu rho^2 / (rho^2 - sigma^2):

    D_inf,i = [ln(rho / sigma) + mu^2 / (2 (rho^2 - sigma^2))] / ln 2

and a block's D_inf is the sum over its dimensions. This reads an mkl run's `model.mrc` (seed,
block layout, scales) and `posterior.npz` (the moments each block was coded from), prints each
block's KL and D_inf, and runs `coding.partition.search_block` on some blocks with their partition
bits given to the dimensions of largest KL (greedy), each search cut at 2^cap points:

    python -m nncompress.bench.sp_blocks outputs/demo/meankl_b30 --blocks 0 40 80 --cap 20
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from nncompress.coding import partition
from nncompress.coding.container import read_container
from nncompress.coding.mrc import MRCPayload
from nncompress.core.blocks import BlockPartition
from nncompress.core.units import LN2
from nncompress.models.coded import CodedNetwork
from nncompress.priors.gaussian import gaussian_kl


def d_inf_bits(mu: torch.Tensor, sigma: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """log2 sup_x q(x)/p(x) per dimension (module docstring); inf where sigma >= rho."""
    gap = rho * rho - sigma * sigma
    out = (torch.log(rho / sigma) + mu * mu / (2 * gap.clamp_min(1e-300))) / LN2
    return torch.where(gap > 0, out, torch.full_like(out, math.inf))


def greedy_allocation(kl_bits, total: int) -> list:
    """`total` partition bits one at a time to the dimension whose KL most exceeds its bits so far."""
    if total > partition.MAX_DIM_BITS * len(kl_bits):
        raise ValueError(f"{total} partition bits exceed {partition.MAX_DIM_BITS} a dimension over {len(kl_bits)}")
    bits = [0] * len(kl_bits)
    for _ in range(total):
        i = max((i for i in range(len(bits)) if bits[i] < partition.MAX_DIM_BITS), key=lambda i: kl_bits[i] - bits[i])
        bits[i] += 1
    return bits


def load_blocks(run_dir: Path):
    """(seed, BlockPartition, mu, sigma, rho per coded variable) of an mkl run coded into model.mrc."""
    missing = [name for name in ("model.mrc", "posterior.npz") if not (run_dir / name).is_file()]
    if missing:
        raise SystemExit(f"error: {run_dir} has no {' or '.join(missing)}: give the run dir of an mkl run "
                         f"coded with coding=mrc (e.g. outputs/demo/meankl_b30 after make run)")
    _, raw = read_container(run_dir / "model.mrc")
    payload = MRCPayload.from_bytes(raw)
    network = CodedNetwork(payload.spec)
    post = np.load(run_dir / "posterior.npz")
    mu = torch.from_numpy(post["mu"]).double()
    sigma = torch.from_numpy(post["log_sigma"]).double().exp()
    rho = payload.rho.double()[network.layer_of]
    return payload.seed, BlockPartition(network.n_coded, payload.block_size, payload.seed), mu, sigma, rho


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--blocks", type=int, nargs="*", default=[0, 40, 80])
    ap.add_argument("--bits", type=int, default=None, help="partition bits B (default: the block's KL - 2)")
    ap.add_argument("--cap", type=int, default=20, help="stop a search after 2^cap points")
    args = ap.parse_args(argv)
    seed, part, mu, sigma, rho = load_blocks(args.run_dir)
    kl = gaussian_kl(mu, sigma, rho) / LN2
    dinf = d_inf_bits(mu, sigma, rho)
    block_kl, block_dinf = part.block_sum(kl), part.block_sum(dinf)
    print(f"{part.n_blocks} blocks of {part.block_size}: KL {block_kl.mean():.2f} bits a block on average, "
          f"D_inf {block_dinf.mean():.2f} ({block_dinf.min():.2f} to {block_dinf.max():.2f}); "
          f"sigma / rho at most {float((sigma / rho).max()):.3f}")
    for b in args.blocks:
        if not 0 <= b < part.n_blocks:
            raise SystemExit(f"error: block {b} is outside 0..{part.n_blocks - 1}")
        m = part.members(b)
        total = args.bits if args.bits is not None else max(0, round(float(block_kl[b])) - 2)
        bits = greedy_allocation(kl[m].tolist(), total)
        t0 = time.perf_counter()
        try:
            r = partition.search_block(seed, b, mu[m], sigma[m], rho[m], bits, max_points=1 << args.cap)
            outcome = f"ended after {r.searched:,} points in {r.bins} bins"
        except RuntimeError:
            outcome = f"passed 2^{args.cap} points"
        print(f"block {b}: KL {float(block_kl[b]):.2f}, D_inf {float(block_dinf[b]):.2f} bits; "
              f"{total} partition bits over {sum(1 for x in bits if x)} dimensions: {outcome} "
              f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
