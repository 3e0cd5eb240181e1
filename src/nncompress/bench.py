"""Benchmarks (`make bench`): ratios measured side by side in one process, written as JSON.

    python -m nncompress.bench --out bench/results.json [--device cpu|cuda] [--blocks 16] [--full]

1. candidate search: normals evaluated per second by the MRC search (generator + log-ratio +
   Gumbel selection), as a ratio to merely drawing as many normals with torch.randn;
2. training step of Mean-Var and Mean-KL as ratios to the deterministic LeNet-5 step, batch 200;
3. coding LeNet-5 at block 30 (828 blocks, 2^20 candidates): search seconds per block measured
   on --blocks blocks and extrapolated (or all blocks with --full), fine-tuning (100 steps per
   block) counted separately from the measured step time;
4. mixture prior (paper 001) over LeNet-300-100's 266,200 weights, 17 components: the fused
   NLL with its gradients against autograd through the per-weight log density, and the
   VD / SWS / VD+SWS training steps of LeNet-300-100 as ratios to its deterministic step.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nncompress.coding.mrc import search_block
from nncompress.methods.baseline import BaselineModule
from nncompress.methods.ibc.family import build_module
from nncompress.methods.mkl.module import MiracleModule
from nncompress.models.coded import CodedNetwork
from nncompress.models.lenet import LeNet300100
from nncompress.models.spec import ArchSpec
from nncompress.priors.mixture import GaussianMixturePrior

PAPER_LENET5 = ArchSpec("lenet5", {"conv2": 2, "fc1": 64})


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _median_seconds(fn, repeats: int, device, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_search(device, log2_k=18, dim=30, repeats=5) -> dict:
    k = 1 << log2_k
    g = torch.Generator().manual_seed(0)
    mu = (torch.randn(dim, generator=g) * 0.05).to(device)
    sigma = (torch.rand(dim, generator=g) * 0.05 + 0.02).to(device)
    rho = torch.full((dim,), 0.1, device=device)
    search = _median_seconds(lambda: search_block(0, 0, mu, sigma, rho, k, chunk=1 << 16), repeats, device)

    def randn_only():
        for _ in range(k >> 16):
            torch.randn(1 << 16, dim, device=device)

    randn = _median_seconds(randn_only, repeats, device)
    n = k * dim
    return {"normals": n, "search_seconds": search, "randn_seconds": randn,
            "search_normals_per_second": n / search, "randn_normals_per_second": n / randn,
            "search_over_randn_time_ratio": search / randn}


def _interleaved(fns: dict, device, repeats=5, rounds=5) -> dict:
    """Median seconds of each fn, timed in turn round after round (a drifting machine hits all alike)."""
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(_median_seconds(fn, repeats, device, warmup=1))
    return {k: statistics.median(v) for k, v in times.items()}


def bench_steps(device, batch=200, repeats=10, rounds=5) -> dict:
    """Median step time of each method; the three are timed in turn, round after round, so a
    drifting machine affects them alike."""
    torch.manual_seed(0)
    net = CodedNetwork(PAPER_LENET5).to(device)
    x = torch.randn(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    base = BaselineModule(net).to(device)
    opt = torch.optim.Adam(base.parameters(), lr=1e-3)

    def base_step():
        loss = F.cross_entropy(base.network(x, base.weights), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    steps = {"baseline": base_step}
    for kind in ("meanvar", "meankl"):
        m = MiracleModule(net, kind, block_size=30).to(device)
        m.setup()
        o = torch.optim.Adam(m.trainable_parameters(), lr=1e-3)

        def step(m=m, o=o):
            loss, _, _ = m.objective(x, y)
            o.zero_grad()
            loss.backward()
            o.step()
            m.anneal_beta()

        steps[kind] = step
    out = {f"{k}_step_seconds": v for k, v in _interleaved(steps, device, repeats, rounds).items()}
    for kind in ("meanvar", "meankl"):
        out[f"{kind}_over_baseline_step_ratio"] = out[f"{kind}_step_seconds"] / out["baseline_step_seconds"]
    return out


def bench_coding(device, n_blocks_measured=16, full=False, finetune_steps=100, step_seconds=None) -> dict:
    torch.manual_seed(0)
    m = MiracleModule(CodedNetwork(PAPER_LENET5), "meankl", block_size=30).to(device)
    m.setup()
    with torch.no_grad():
        mu, sigma, rho = m.moments()
    nb = m.partition.n_blocks
    todo = nb if full else min(n_blocks_measured, nb)
    t0 = time.perf_counter()
    for b in range(todo):
        idx = m.partition.members(b)
        search_block(0, b, mu[idx], sigma[idx], rho[idx], 1 << 20, chunk=1 << 16)
    _sync(device)
    per_block = (time.perf_counter() - t0) / todo
    out = {"n_blocks": nb, "blocks_measured": todo, "search_seconds_per_block": per_block,
           "search_seconds_total": per_block * nb, "extrapolated": not full}
    if step_seconds is not None:
        out["finetune_seconds_total"] = step_seconds * finetune_steps * (nb - 1)
        out["coding_seconds_total"] = out["search_seconds_total"] + out["finetune_seconds_total"]
    return out


def bench_mixture(device, batch=200) -> dict:
    torch.manual_seed(0)
    net = LeNet300100().to(device)
    w = torch.cat([m.weight.detach().flatten() for m in net.modules() if isinstance(m, torch.nn.Linear)])
    w.requires_grad_()
    prior = GaussianMixturePrior(w.detach(), 17).to(device)

    def fused():
        w.grad = None
        prior.zero_grad()
        prior.neg_log_likelihood(w).backward()

    def autograd():
        w.grad = None
        prior.zero_grad()
        (-prior.log_prob(w).sum()).backward()

    x = torch.randn(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    fns = {"nll_fused": fused, "nll_autograd": autograd}
    terms = {"vd": ["vd"], "sws": ["mixture"], "vd_sws": ["vd", "mixture"]}
    for mode in ("baseline", "vd", "sws", "vd_sws"):
        if mode == "baseline":
            m = LeNet300100().to(device)
            o = torch.optim.Adam(m.parameters(), lr=1e-3)
            loss_fn = lambda m=m: F.cross_entropy(m(x), y)  # noqa: E731
        else:
            m = build_module(LeNet300100(), 55000, terms[mode], {}).to(device)
            o = m.configure_optimizers()
            loss_fn = lambda m=m: m.objective(x, y)[0]  # noqa: E731

        def step(loss_fn=loss_fn, o=o):
            loss = loss_fn()
            o.zero_grad()
            loss.backward()
            o.step()

        fns[f"lenet300_{mode}_step"] = step
    t = _interleaved(fns, device)
    out = {"n_weights": w.numel(), "components": 17, **{f"{k}_seconds": v for k, v in t.items()},
           "nll_autograd_over_fused_time_ratio": t["nll_autograd"] / t["nll_fused"]}
    for mode in ("vd", "sws", "vd_sws"):
        out[f"lenet300_{mode}_over_baseline_step_ratio"] = t[f"lenet300_{mode}_step"] / t["lenet300_baseline_step"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--blocks", type=int, default=16, help="blocks to time for the coding estimate")
    ap.add_argument("--full", action="store_true", help="code all 828 blocks instead of extrapolating")
    args = ap.parse_args(argv)
    result = {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.machine(), "python": platform.python_version()}
    print("candidate search ...", flush=True)
    result["search"] = bench_search(args.device)
    print("training steps ...", flush=True)
    result["steps"] = bench_steps(args.device)
    print("coding LeNet-5 at block 30 ...", flush=True)
    result["coding"] = bench_coding(args.device, args.blocks, args.full,
                                    step_seconds=result["steps"]["meankl_step_seconds"])
    print("mixture prior and paper-001 steps ...", flush=True)
    result["mixture"] = bench_mixture(args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
