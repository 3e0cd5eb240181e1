"""Paper 000 benchmarks: the MRC candidate search against drawing normals, the Mean-Var / Mean-KL
training steps against the deterministic one, and coding LeNet-5 at block 30 (2^20 candidates)."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.bench.timing import interleaved
from nncompress.coding.search import candidate_key, search_block, selection_key
from nncompress.core import generator as G
from nncompress.core.errors import Paused
from nncompress.methods.baseline import BaselineModule
from nncompress.methods.mkl.encoder import MRCEncoder, MRCSettings
from nncompress.methods.mkl.module import MiracleModule
from nncompress.models.coded import CodedNetwork
from nncompress.models.lenet import LeNet5Caffe
from nncompress.models.spec import ArchSpec

PAPER_LENET5 = ArchSpec("lenet5", {"conv2": 2, "fc1": 64})


def _legacy_search(seed, block, mu, sigma, rho, n_candidates, chunk=1 << 16):
    """The search before issue 11 (float32 normals from the eager generator, two matrix-vector
    products, Gumbel argmax per chunk), kept here as the 'before' of the ratio."""
    a = 0.5 - rho**2 / (2 * sigma**2)
    b = rho * mu / sigma**2
    c = float(torch.sum(torch.log(rho / sigma) - mu**2 / (2 * sigma**2)))
    ckey, skey = candidate_key(seed, block), selection_key(seed, block)
    best = (-math.inf, -1)
    for k0 in range(0, n_candidates, chunk):
        m = min(chunk, n_candidates - k0)
        z = G.normals(ckey, k0, m, len(mu), mu.device)
        score = (z * z) @ a + z @ b + c + G.gumbels(skey, k0, m, mu.device)
        k = int(torch.argmax(score))
        best = max(best, (float(score[k]), k0 + k))
    return best[1]


def bench_search(device, log2_k=18, dim=30, repeats=5, rounds=3) -> dict:
    """Normals per second of the search, fused (one compiled kernel) and eager, beside the search
    before issue 11, as ratios of throughput to torch.randn drawing as many normals; timed in turn,
    round after round. Target (issue 11): fused >= 0.5 of randn on a CPU, >= 0.7 on a GPU."""
    k = 1 << log2_k
    g = torch.Generator().manual_seed(0)
    mu = (torch.randn(dim, generator=g) * 0.05).to(device)
    sigma = (torch.rand(dim, generator=g) * 0.05 + 0.02).to(device)
    rho = torch.full((dim,), 0.1, device=device)
    t0 = time.perf_counter()
    fused = search_block(0, 0, mu, sigma, rho, k, chunk=1 << 16, fused=True)  # compiles (or loads) the kernel
    compile_seconds = time.perf_counter() - t0
    eager = search_block(0, 0, mu, sigma, rho, k, chunk=1 << 16)
    fns = {
        "randn": lambda: [torch.randn(1 << 16, dim, device=device) for _ in range(k >> 16)],
        "fused": lambda: search_block(0, 0, mu, sigma, rho, k, chunk=1 << 16, fused=True),
        "eager": lambda: search_block(0, 0, mu, sigma, rho, k, chunk=1 << 16),
        "legacy": lambda: _legacy_search(0, 0, mu, sigma, rho, k),
    }
    t = interleaved(fns, device, repeats, rounds)
    n = k * dim
    gpu = torch.device(device).type == "cuda"
    out = {"normals": n, "fused_same_index_as_eager": fused == eager, "fused_kernel_ok": fused_ok(device, dim),
           "fused_first_call_seconds": compile_seconds, "rescored_candidates": fused.rescored,
           **{f"{name}_seconds": v for name, v in t.items()},
           **{f"{name}_normals_per_second": n / v for name, v in t.items()}}
    for name in ("fused", "eager", "legacy"):
        out[f"{name}_over_randn_throughput"] = t["randn"] / t[name]
    out["candidate_search_over_randn"] = {"value": out["fused_over_randn_throughput"], "target": 0.7 if gpu else 0.5,
                                          "target_op": ">=", "before": out["legacy_over_randn_throughput"]}
    out["search_over_randn_time_ratio"] = t["fused"] / t["randn"]
    out["fused_cold_build_seconds"] = cold_build_seconds(device, dim, 20)
    return out


def cold_build_seconds(device, dim: int = 30, log2_k: int = 20) -> float:
    """Seconds to build the fused kernel of blocks of `dim` and 2^log2_k candidates on a cold
    inductor cache (a fresh process and cache folder, imports not counted): what the first MRC run
    on a new machine waits before its first block (`make run`: dim 30, 2^20). NaN if it failed."""
    code = ("import time; from nncompress.coding.search import prepare_fused; t = time.perf_counter(); "
            f"ok = prepare_fused({str(torch.device(device))!r}, {dim}, {1 << log2_k}); "
            "print(ok, time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache},
                             capture_output=True, text=True)
    words = out.stdout.split()
    return float(words[-1]) if out.returncode == 0 and words[-2:-1] == ["True"] else float("nan")


def fused_ok(device, dim) -> bool:
    from nncompress.coding.scoring import _KERNELS

    return any(k.ok and k.checked for sig, k in _KERNELS.items() if sig[0] == str(torch.device(device)))


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
    out = {f"{k}_step_seconds": v for k, v in interleaved(steps, device, repeats, rounds).items()}
    for kind in ("meanvar", "meankl"):
        out[f"{kind}_over_baseline_step_ratio"] = out[f"{kind}_step_seconds"] / out["baseline_step_seconds"]
    # Issue 11, target 3 (fine-tuning step <= 0.7x): the fine-tuning step is the Mean-KL step above.
    # Were its moments, sampling and weight expansion free, it would cost the deterministic step:
    # that ratio is the floor any rewrite of the same math can reach without a faster LeNet-5 itself.
    floor = out["baseline_step_seconds"] / out["meankl_step_seconds"]
    out["finetune_step_ratio"] = {"value": None, "floor": floor, "target": 0.7, "target_op": "<=", "met": False,
                                  "note": "not reached: floor = deterministic / Mean-KL step; see lenet5_step"}
    out["lenet5_step"] = bench_lenet5_variants(device, batch, repeats, rounds)
    return out


class _PlainLeNet5(LeNet5Caffe):
    """LeNet-5 as it was before issue 20's step work: oneDNN's conv1 and each ReLU before its pooling."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def bench_lenet5_variants(device, batch=200, repeats=10, rounds=5) -> dict:
    """The deterministic LeNet-5 forward/backward (the bulk of a fine-tuning step) by eager PyTorch
    as shipped (conv1 by patches, layers.patch_conv; pooling before ReLU), the plain module before
    that, channels-last memory and torch.compile, as ratios to the shipped eager step."""
    torch.manual_seed(0)
    net = LeNet5Caffe().to(device)  # the plain module: its own parameters, no coded vector
    plain = _PlainLeNet5().to(device)
    plain.load_state_dict(net.state_dict())
    x = torch.randn(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    xc = x.contiguous(memory_format=torch.channels_last)

    def step(f, inp, module=net):
        def run():
            module.zero_grad(set_to_none=True)
            F.cross_entropy(f(inp), y).backward()
        return run

    fns = {"eager": step(net, x), "plain_conv1": step(plain, x, plain), "channels_last": step(net, xc)}
    try:
        compiled = torch.compile(net)
        compiled(x)
        fns["compiled"] = step(compiled, x)
    except Exception as exc:  # no compiler here: the ratio is simply absent
        print(f"torch.compile unavailable: {type(exc).__name__}")
    t = interleaved(fns, device, repeats, rounds)
    return {**{f"{k}_seconds": v for k, v in t.items()},
            **{f"{k}_over_eager": v / t["eager"] for k, v in t.items() if k != "eager"}}


def bench_coding(device, n_blocks_measured=16, full=False, finetune_steps=100, step_seconds=None) -> dict:
    """Coding LeNet-5 at block 30 (828 blocks) with 2^20 candidates, fine-tuning excluded: the
    search (fused) timed on `n_blocks_measured` blocks of a real encoder run (or all with --full),
    and the encoder's per-block overhead (moments, selection, fixing, checkpoints) from the same
    run; totals extrapolated to all blocks unless --full. Target (issue 11): <= 150 s on this CPU."""
    torch.manual_seed(0)
    m = MiracleModule(CodedNetwork(PAPER_LENET5), "meankl", block_size=30).to(device)
    m.setup()
    nb = m.partition.n_blocks
    todo = nb if full else min(n_blocks_measured, nb)
    x = torch.randn(64, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (64,), device=device)
    cfg = MRCSettings(block_size=30, finetune_steps=0, progress=False, fused="on", stop_after=todo,
                      checkpoint_seconds=30.0)
    search_block(0, 0, *(t[:30] for t in m.moments()), 1 << 16, fused=True)  # the kernel, compiled or loaded
    with tempfile.TemporaryDirectory() as tmp:
        enc = MRCEncoder(m, x, y, cfg, seed=0, batch_size=64, lr=1e-3, state_path=Path(tmp) / "state.pt")
        t0 = time.perf_counter()
        try:
            enc.run()
        except Paused:
            pass
        wall = time.perf_counter() - t0
    st = enc.stats
    search = st["search_seconds"] / todo
    overhead = (st["block_seconds"] - st["search_seconds"] - st["finetune_seconds"]) / todo
    out = {"n_blocks": nb, "blocks_measured": todo, "extrapolated": not full, "wall_seconds_measured": wall,
           "search_seconds_per_block": search, "overhead_seconds_per_block": overhead,
           "rescored_candidates_max": max(st["rescored"]), "search_seconds_total": search * nb,
           "per_block_overhead": {"value": overhead, "target": 0.05 * search, "target_op": "<=",
                                  "note": "seconds per block outside search and fine-tuning; target 5 % of the search"},
           "lenet5_block30_coding_seconds": {"value": (search + overhead) * nb, "target": 150.0, "target_op": "<=",
                                             "extrapolated": not full, "note": "fine-tuning excluded"}}
    if step_seconds is not None:
        out["finetune_seconds_total"] = step_seconds * finetune_steps * (nb - 1)
        out["coding_seconds_total"] = (search + overhead) * nb + out["finetune_seconds_total"]
    return out
