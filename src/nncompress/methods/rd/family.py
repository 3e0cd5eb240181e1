"""Paper 003 as a family: post-training pruning or quantisation of a trained baseline by an
importance-weighted rate-distortion objective, written as model.cbk (codec codebook).

    check      the settings (settings.py), before any work
    build      load the baseline (init_from) into the plain architecture; no training
               (Family.trains = False)
    describe   test metrics of the baseline as loaded (accuracy, cross-entropy, top-5);
               operation=theory: Figure 6's curve and Monte Carlo check into theory.json
    export     importance (estimate.py, cached beside the baseline) -> prune or quantise
               (compress.py) -> CodebookNet, and the accounting keys
    after_decode  the decoded network must equal the compressed one tensor for tensor; its test
               accuracy, cross-entropy and top-5
"""
from __future__ import annotations

import json
import logging

import torch
from torch import nn

from nncompress.coding.codebook import CodebookNet
from nncompress.core.errors import UserError
from nncompress.core.evaluation import logits_of
from nncompress.methods.base import BuildContext, ClassifierModule, Family, register
from nncompress.methods.baseline import load_baseline_into
from nncompress.methods.frontier_rows import FrontierRows, Knob
from nncompress.methods.rd.compress import Compressed, prune, quantize
from nncompress.methods.rd.estimate import importance_for
from nncompress.methods.rd.figure6 import figure6_data
from nncompress.methods.rd.metrics import classification_metrics
from nncompress.methods.rd.settings import RdMethod, RdSettings, check_config, rd_settings

log = logging.getLogger(__name__)


class RdModule(ClassifierModule):
    """The baseline network as trained; the compressed copy is kept once `export` made it."""

    def __init__(self, net: nn.Module, settings: RdSettings, seed: int = 0):
        super().__init__()
        self.net, self.settings, self.seed = net, settings, seed
        self.compressed: Compressed | None = None

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.net(x))


def importance_keys(s: RdSettings, est) -> dict:
    imp = s.importance
    keys = {"operation": s.operation, "importance": imp.name, "importance_seconds": est.seconds,
            "importance_cached": est.cached, "importance_samples": est.n_samples}
    if imp.uses_data:
        keys.update(temperature=float(imp.temperature), importance_split=imp.split)
    if imp.name in ("gradient", "grad_hessian"):
        keys["per_sample"] = imp.per_sample
    if imp.name in ("hessian", "grad_hessian"):
        keys["hessian_estimator"] = imp.hessian_estimator
    if imp.name == "hessian":
        keys.update(mu=float(imp.mu), normalize=imp.normalize)
    return keys


IMPORTANCE = Knob("importance", "importance", "importance.name")
QUANTIZE = ((Knob("operation", "operation", "method.operation"), "quantize"),)


@register
class RdFamily(Family):
    key, codec, trains = "rd", "codebook", False
    schemas = {("method", "rd_schema"): RdMethod}
    # ratio_paper: 1 / kept fraction (pruning) or section 5.3's r (quantisation)
    frontier = (FrontierRows("rd", "rd quantisation", "*", "tab:pink", "{bits} bits, {importance}",
                             (Knob("bits", "bits", "method.bits"), IMPORTANCE), when=QUANTIZE),
                FrontierRows("rd", "rd pruning", "X", "tab:purple", "keep {keep}, {importance}",
                             (Knob("keep", "keep", "method.keep"), IMPORTANCE)))

    def check(self, cfg) -> None:
        s = check_config(cfg)
        if s.operation == "theory" and cfg.coding.name != "none":
            raise UserError("method.operation=theory compresses no network and writes no file: add coding=none")

    def build(self, cfg, ctx: BuildContext) -> RdModule:
        self.check(cfg)  # again: build may be called without the task's check
        s = rd_settings(cfg)
        net = ctx.network.spec.build()
        if ctx.init_from is not None:
            load_baseline_into(net, ctx.init_from, ctx.network.spec)
        return RdModule(net, s, int(cfg.seed))

    def describe(self, module: RdModule, ctx: BuildContext) -> dict:
        s = module.settings
        keys = {"operation": s.operation, **({"figure": s.figure} if s.figure is not None else {})}
        keys.update(classification_metrics(module.predict, ctx.dm.test_dataloader(), suffix="_uncompressed"))
        if s.operation == "theory":
            keys.update(RdFamily._theory(module, ctx))
        return keys

    @staticmethod
    def _theory(module: RdModule, ctx: BuildContext) -> dict:
        t = module.settings.theory
        data = figure6_data(t["lam"], t["sigma2"], t["distortions"], t["mc_samples"], seed=module.seed)
        (ctx.run_dir / "theory.json").write_text(json.dumps(data, indent=1))
        return {"theory_passed": data["passed"], "theory_kinks": [[k["D"], k["R"]] for k in data["kinks"]],
                "theory_checks": len(data["checks"])}

    def export(self, module: RdModule, cfg, ctx: BuildContext):
        s = module.settings
        est = importance_for(module.net, ctx.dm, s.importance, int(cfg.seed), ctx.init_from, s.cache_importance)
        log.info("importance %s: %d samples, %.1f s%s", s.importance.name, est.n_samples, est.seconds,
                 " (cached)" if est.cached else "")
        module.net.eval()
        if s.operation == "prune":
            module.compressed = prune(module.net, est.importance, s.keep)
        else:
            module.compressed = quantize(module.net, est.importance, s.bits, s.max_iter)
        payload = CodebookNet.from_network(ctx.network.spec, module.compressed.net, module.compressed.codes)
        keys = {**importance_keys(s, est), **module.compressed.keys}
        if s.figure is not None:
            keys["figure"] = s.figure
        return payload, keys

    def after_decode(self, module: RdModule, decoded, cfg, ctx: BuildContext) -> dict:
        ours = module.compressed.net.state_dict()
        theirs = decoded.network.state_dict()
        differ = [k for k in ours if not torch.equal(ours[k].cpu(), theirs[k].cpu())]
        if differ:  # the codec must hold the compressed network exactly
            raise RuntimeError(f"model.cbk does not decode to the compressed network: {differ}")
        return {"decoded_equal": True, **classification_metrics(decoded, ctx.dm.test_dataloader())}
