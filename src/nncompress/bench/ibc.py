"""Paper 001 benchmarks: the fused mixture-prior NLL against autograd, and the VD / SWS / VD+SWS
training steps of LeNet-300-100 against its deterministic step."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nncompress.bench.timing import interleaved
from nncompress.methods.ibc.family import build_module
from nncompress.models.lenet import LeNet300100
from nncompress.priors.mixture import GaussianMixturePrior


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
    t = interleaved(fns, device)
    out = {"n_weights": w.numel(), "components": 17, **{f"{k}_seconds": v for k, v in t.items()},
           "nll_autograd_over_fused_time_ratio": t["nll_autograd"] / t["nll_fused"]}
    for mode in ("vd", "sws", "vd_sws"):
        out[f"lenet300_{mode}_over_baseline_step_ratio"] = t[f"lenet300_{mode}_step"] / t["lenet300_baseline_step"]
    return out
