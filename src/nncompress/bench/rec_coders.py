"""MRC, ORC and PFR side by side on Gaussian blocks of a chosen KL (`coding.gaussian_coders`): bits
per block against the block's KL and each coder's bound, the coded sample against the posterior
(`core.divergence`: binned TV / KL of the first coordinate and, d > 1, of the radius, beside the
exact floor of as many draws from q itself), coding time.

    python -m nncompress.bench.rec_coders --kl 10 16 --dim 1 2 --blocks 400
    python -m nncompress.bench.rec_coders --kl 20 --dim 1 2 --blocks 200 --fused --threads 2
    python -m nncompress.bench.rec_coders --kl 10 20 30 60 --coders sppfr --blocks 2000
"""
from __future__ import annotations

import argparse
import json

import torch

from nncompress.coding.gaussian_coders import CODERS, table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kl", type=int, nargs="+", default=[10, 16])
    ap.add_argument("--dim", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--blocks", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pfr-extra", type=int, default=2, help="PFR's search bound: 2^(KL + this) candidates")
    ap.add_argument("--fused", action="store_true",
                    help="pass 1 by the compiled kernel (the same indices; eager takes ~50 s a block at KL 20)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--coders", nargs="+", default=list(CODERS), choices=CODERS)
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = table(args.kl, args.dim, args.blocks, args.seed, args.pfr_extra, fused=args.fused, coders=args.coders)
    print(f"{'coder':6} {'KL':>3} {'d':>2} {'bits':>6} {'bound':>6} {'log2K':>6} {'Kbound':>6} {'TV':>6} {'TV r':>6} "
          f"{'floor':>6} {'KL':>7} {'KL r':>7} {'floor':>7} {'s/block':>8}")
    for r in rows:
        tv_r, kl_r = r.get("tv_radial", float("nan")), r.get("kl_radial_bits", float("nan"))
        print(f"{r['coder']:6} {r['kl_bits']:3d} {r['dim']:2d} {r['bits']:6.2f} {r['bits_bound']:6.2f} "
              f"{r['mean_log2_K']:6.2f} {r['log2_K_bound']:6.2f} {r['tv_marginal']:6.3f} {tv_r:6.3f} "
              f"{r['tv_floor']:6.3f} {r['kl_marginal_bits']:7.4f} {kl_r:7.4f} "
              f"{r['kl_floor_bits']:7.4f} {r['seconds_per_block']:8.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
