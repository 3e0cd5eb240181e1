"""Paper 000 benchmarks: the MRC candidate search against drawing normals, the Mean-Var / Mean-KL
training steps against the deterministic one, and coding LeNet-5 at block 30 (2^20 candidates)."""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from nncompress.bench.timing import interleaved, median_seconds, sync
from nncompress.coding.mrc import search_block
from nncompress.methods.baseline import BaselineModule
from nncompress.methods.mkl.module import MiracleModule
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

PAPER_LENET5 = ArchSpec("lenet5", {"conv2": 2, "fc1": 64})


def bench_search(device, log2_k=18, dim=30, repeats=5) -> dict:
    k = 1 << log2_k
    g = torch.Generator().manual_seed(0)
    mu = (torch.randn(dim, generator=g) * 0.05).to(device)
    sigma = (torch.rand(dim, generator=g) * 0.05 + 0.02).to(device)
    rho = torch.full((dim,), 0.1, device=device)
    search = median_seconds(lambda: search_block(0, 0, mu, sigma, rho, k, chunk=1 << 16), repeats, device)

    def randn_only():
        for _ in range(k >> 16):
            torch.randn(1 << 16, dim, device=device)

    randn = median_seconds(randn_only, repeats, device)
    n = k * dim
    return {"normals": n, "search_seconds": search, "randn_seconds": randn,
            "search_normals_per_second": n / search, "randn_normals_per_second": n / randn,
            "search_over_randn_time_ratio": search / randn}


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
    sync(device)
    per_block = (time.perf_counter() - t0) / todo
    out = {"n_blocks": nb, "blocks_measured": todo, "search_seconds_per_block": per_block,
           "search_seconds_total": per_block * nb, "extrapolated": not full}
    if step_seconds is not None:
        out["finetune_seconds_total"] = step_seconds * finetune_steps * (nb - 1)
        out["coding_seconds_total"] = out["search_seconds_total"] + out["finetune_seconds_total"]
    return out
