"""Benchmarks (`make bench`): ratios measured side by side in one process, written as JSON.

    python -m nncompress.bench --out bench/results.json [--device cpu|cuda] [--blocks 16] [--full]
                               [--only mkl,ibc,rd,pwfn]

1. candidate search: normals evaluated per second by the MRC search (pass 1 fused into one
   compiled kernel, eager, and the search before issue 11), each as a ratio of throughput to
   merely drawing as many normals with torch.randn (`candidate_search_over_randn`, target beside it);
2. training step of Mean-Var and Mean-KL as ratios to the deterministic LeNet-5 step, batch 200;
3. coding LeNet-5 at block 30 (828 blocks, 2^20 candidates) with the real encoder: search and
   per-block overhead measured on --blocks blocks and extrapolated (or all blocks with --full),
   `lenet5_block30_coding_seconds` and `per_block_overhead` with their targets; fine-tuning (100
   steps per block) counted separately from the measured step time;
4. mixture prior (paper 001) over LeNet-300-100's 266,200 weights, 17 components: the NLL with
   its gradients by kernel (compiled, eager, eager at the old block size) against autograd through
   the per-weight log density, and the VD / SWS / VD+SWS training steps of LeNet-300-100 as
   ratios to its deterministic step, beside the old kernel's and the target (4.0, issue 11);
5. importance estimators (paper 003) over 60,000 MNIST inputs of its MLP: fisher, gradient, the
   public code's mini-batch gradient, the Hessian diagonals;
6. PWFN fixing rounds (paper 002) over 11 M weights (ResNet-18 size).

7. MRC coding shared across ranks (issue 22, `bench.ranks`): blocks per second of the encoder on
   1 and 2 CPU processes (gloo, one thread each, fine-tuning off), their ratio, and whether the
   two files are byte-identical.

Sections (`--only`): by paper mkl (1-3), ibc (4), rd (5), pwfn (6); ddp (7). Decoder fuzzing is
test infrastructure: `python tests/fuzz_bench.py` (tests/mutants.py makes the mutants).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

SECTIONS = ("mkl", "ibc", "rd", "pwfn", "ddp")


def run(section: str, args) -> dict:
    """One paper's benchmarks (each module imported only when asked for)."""
    if section == "mkl":
        from nncompress.bench.mkl import bench_coding, bench_search, bench_steps

        out = {"search": bench_search(args.device), "steps": bench_steps(args.device)}
        out["coding"] = bench_coding(args.device, args.blocks, args.full,
                                     step_seconds=out["steps"]["meankl_step_seconds"])
        return out
    if section == "ibc":
        from nncompress.bench.ibc import bench_mixture

        return {"mixture": bench_mixture(args.device)}
    if section == "ddp":
        import tempfile

        from nncompress.bench.ranks import bench_ranks

        with tempfile.TemporaryDirectory() as tmp:
            return {"ddp_coding": bench_ranks(tmp)}
    if section == "rd":
        from nncompress.bench.rd import bench_importance

        return {"importance": bench_importance(args.device)}
    from nncompress.bench.pwfn import bench_fixing

    return {"fixing": bench_fixing()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--blocks", type=int, default=16, help="blocks to time for the coding estimate")
    ap.add_argument("--full", action="store_true", help="code all 828 blocks instead of extrapolating")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    args = ap.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {unknown}; choose from {','.join(SECTIONS)}")
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.exists() else {}  # other sections' last numbers stay
    result.update(device=args.device, torch=torch.__version__, threads=torch.get_num_threads(),
                  machine=platform.machine(), python=platform.python_version())
    for section in sections:
        print(f"{section} ...", flush=True)
        result.update(run(section, args))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")
