"""MIRACLE as a family: build the module, run the block encoder (MRC, or the ORC / PFR coders),
keep what Figures 1 and 3 need."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from omegaconf import OmegaConf

from nncompress.coding.codec import get_codec, read_file
from nncompress.coding.mrc import MAX_BLOCK
from nncompress.core.errors import UserError
from nncompress.core.evaluation import weights_sha256
from nncompress.core.units import LN2
from nncompress.methods.base import BuildContext, Family, check_kwargs, register
from nncompress.methods.frontier_rows import FrontierRows, Knob
from nncompress.methods.mkl.callbacks import PosteriorHistograms, PruningCurvesPlot
from nncompress.methods.mkl.encoder import MRCEncoder, MRCSettings, PrewarmSearchKernel
from nncompress.methods.mkl.module import MiracleModule, check_schedule
from nncompress.methods.mkl.settings import SCHEMAS
from nncompress.methods.mkl.sharding import Ranks
from nncompress.pruning.curves import accuracy_curves, fractions, update_curves_file

STATE = "coding_state.pt"  # a resumable encoder state: training finished and coding began


def mrc_settings(cfg) -> MRCSettings:
    coding = OmegaConf.to_container(cfg.coding, resolve=True)
    check_kwargs(coding, MRCSettings, "coding")
    return MRCSettings(**coding)


def frontier_rows() -> tuple:
    """A row kind per posterior and coder (issue 23: the frontier gains a row for each coder); the
    paper's accounting (ratio_paper) counts the block indices only."""
    knobs = (Knob("block", "block_size", "block"), Knob("bits", "bits_per_block", "coding.bits_per_block"))
    coder = Knob("coder", "coder", "coding.name")
    rows = []
    for method, name, colour in (("meanvar", "Mean-Var", "tab:blue"), ("meankl", "Mean-KL", "tab:cyan")):
        for code, marker in (("orc", "h"), ("pfr", "p")):  # before MRC's, which has no condition
            rows.append(FrontierRows(method, f"MIRACLE {name} ({code.upper()})", marker, colour,
                                     "block {block}, {bits} bits", knobs, when=((coder, code),)))
        rows.append(FrontierRows(method, f"MIRACLE {name}", "o", colour, "block {block}, {bits} bits", knobs))
    return tuple(rows)


# One posterior's settings (Mean-Var: log_sigma_init, beta_*; Mean-KL: halley_steps), passed where the
# method node has them.
POSTERIOR_KEYS = ("log_sigma_init", "beta_init", "beta_eps", "beta_eps_coding", "halley_steps")


@register
class MklFamily(Family):
    key, codec = "mkl", "mrc"
    shards_export = True  # trainer=ddp: the ranks share the block searches (methods/mkl/sharding.py)
    codecs = ("orc", "pfr")  # coding=orc|pfr: the same posterior, coded by ordered random coding or PFR
    trains_with = ("bits_per_block",)  # the block KL budget C_block the posterior is trained to
    schemas = {("coding", "mrc_schema"): MRCSettings, **SCHEMAS}
    frontier = frontier_rows()

    @staticmethod
    def schedule(m) -> dict:
        """MiracleModule's warm-up and rate settings that method config `m` has (Mean-KL's schema
        states them; Mean-Var's has none): MiracleModule's signature is the one fallback."""
        out = {}
        if "budget_warmup" in m:
            out.update(budget_warmup_factor=float(m.budget_warmup.factor),
                       budget_warmup_steps=int(m.budget_warmup.steps))
        if "lr_gamma_factor" in m:
            out["lr_gamma_factor"] = float(m.lr_gamma_factor)
        if "lr_decay" in m:
            out.update(lr_decay_start=int(m.lr_decay.start), lr_decay_steps=int(m.lr_decay.steps),
                       lr_final_factor=float(m.lr_decay.final))
        return out

    def check(self, cfg) -> None:
        try:
            check_schedule(cfg.method.posterior, **self.schedule(cfg.method))
        except ValueError as exc:
            raise UserError(f"method (budget_warmup, lr_gamma_factor, lr_decay): {exc}") from None
        if cfg.coding.name in (self.codec, *self.codecs):
            try:
                _ = mrc_settings(cfg).n_candidates  # validates name, candidates_log2 and selection
            except ValueError as exc:
                raise UserError(f"coding: {exc}") from None

    def build(self, cfg, ctx: BuildContext) -> MiracleModule:
        m = cfg.method
        if not 1 <= int(cfg.block) <= min(ctx.network.n_coded, MAX_BLOCK):
            raise UserError(f"block={cfg.block}: a block holds 1..{min(ctx.network.n_coded, MAX_BLOCK):,} variables "
                            f"(this model codes {ctx.network.n_coded:,}; the format allows {MAX_BLOCK:,})")
        return MiracleModule(
            ctx.network, posterior=m.posterior, block_size=int(cfg.block),
            bits_per_block=int(cfg.coding.get("bits_per_block", 20)), partition_seed=int(cfg.seed),
            lr=m.lr, log_rho_init=m.log_rho_init, **{k: m[k] for k in POSTERIOR_KEYS if k in m},
            **self.schedule(m))

    def export_started(self, ctx: BuildContext) -> bool:
        return (ctx.run_dir / STATE).exists()

    def export(self, module: MiracleModule, cfg, ctx: BuildContext):
        t0 = time.perf_counter()
        settings = mrc_settings(cfg)
        record = {}
        if not self.export_started(ctx):
            with torch.no_grad():
                kl_bits = (module.block_kl(*module.moments()) / LN2).cpu()
            record = {"kl_bits_per_block_mean": float(kl_bits.mean()), "kl_bits_per_block_max": float(kl_bits.max())}
        step, every = int(cfg.method.train_steps), max(settings.finetune_steps, 1)

        def on_block(b, metrics):  # coding progress on the training step axis
            for lg in ctx.loggers:
                lg.log_metrics(metrics, step=step + 1 + b * every)

        dm = ctx.dm
        x, y = (dm.x_train, dm.y_train) if getattr(dm, "in_memory", True) else (dm.train_dataloader(), None)
        encoder = MRCEncoder(module, x, y, settings, seed=int(cfg.seed),
                             batch_size=int(cfg.dataset.batch_size), lr=float(cfg.method.lr),
                             state_path=ctx.run_dir / STATE, on_block=on_block, ranks=Ranks.join())
        encoder.stats.update(record)
        payload = encoder.run()  # raises core.errors.Paused after coding.stop_after blocks
        if payload is None:  # a rank > 0: its blocks went to rank 0, which writes the file
            return None, {}
        ctx.handover["coded"] = encoder.coded  # what after_decode checks the file against
        stats = encoder.stats
        searched = {} if "searched" not in stats else {
            # ORC, PFR: candidates scored per block (the search stops once no later one can win);
            # blocks whose search stopped before the bound: for PFR, an exact sample of the posterior
            "searched_log2_mean": float(np.mean(np.log2(stats["searched"]))),
            "stopped_early_blocks": int(sum(n < settings.n_candidates for n in stats["searched"]))}
        return payload, {**searched,
            "candidates_log2": int(math.log2(settings.n_candidates)), "finetune_steps": settings.finetune_steps,
            "selection": settings.selection, "round_blocks": settings.round_blocks,
            "coding_ranks": stats.get("coding_ranks", 1), "kl_bits_per_block_mean": stats.get("kl_bits_per_block_mean"),
            "kl_bits_per_block_max": stats.get("kl_bits_per_block_max"),
            "kl_bits_at_coding_mean": float(np.mean(stats["kl_bits"])),
            "search_seconds": stats["search_seconds"], "finetune_seconds": stats["finetune_seconds"],
            "compile_seconds": stats.get("compile_seconds", 0.0),  # the fused kernel's build, before block 0
            # Time of the block loop outside the search and the fine-tuning steps (moments, checkpoints, logs).
            "coding_overhead_seconds": stats.get("block_seconds", 0.0) - stats["search_seconds"]
            - stats["finetune_seconds"],
            "coding_seconds": time.perf_counter() - t0}

    def after_decode(self, module: MiracleModule, decoded, cfg, ctx: BuildContext) -> dict:
        coded = ctx.handover["coded"]
        if decoded.weights_sha256 != weights_sha256(coded.values):
            raise RuntimeError("decoded weights differ from the encoder's: the coder is not bit-exact")
        network = ctx.network
        mu, log_sigma = coded.mu.cpu(), coded.sigma.clamp_min(1e-30).log().cpu()
        np.savez(ctx.run_dir / "posterior.npz", mu=mu.numpy(), log_sigma=log_sigma.numpy(),
                 sample=decoded.weights.cpu().numpy(), layer=network.layer_of.cpu().numpy(),
                 layer_names=np.array(network.layer_names))
        p = cfg.pruning
        if p.after_train and p.strategies:  # as task=prune_curve computes them from the saved posterior
            curves = accuracy_curves(decoded.network, decoded.weights, mu, log_sigma.exp(), ctx.dm.test_dataloader(),
                                     p.strategies, fractions(**p.fractions), p.repeats, p.seed)
            update_curves_file(ctx.run_dir, curves, decoded.weights_sha256)
        return {}

    def callbacks(self, cfg, ctx: BuildContext) -> list:
        prewarm = [PrewarmSearchKernel(mrc_settings(cfg))] if cfg.coding.name in (self.codec, *self.codecs) else []
        return [*prewarm, PosteriorHistograms(ctx.run_dir), PruningCurvesPlot(ctx.run_dir)]

    def prune_curves(self, run_dir, cfg, pruning, dm) -> tuple:
        """On what the decoder rebuilds from the run's file (never the means), pruned by the posterior
        each variable was coded from (posterior.npz, written by after_decode)."""
        name = cfg.coding.name
        path = run_dir / (get_codec(name).filename if name in (self.codec, *self.codecs) else "?")
        if not path.exists() or not (run_dir / "posterior.npz").exists():
            raise UserError(f"task=prune_curve: {run_dir} holds no coded file and posterior.npz (coding={name}); "
                            f"prune curves need a coded run")
        _, decoded = read_file(path)
        post = np.load(run_dir / "posterior.npz")
        mu, sigma = torch.from_numpy(post["mu"]), torch.from_numpy(post["log_sigma"]).exp()
        decoded.to(dm.device)
        curves = accuracy_curves(decoded.network, decoded.weights, mu, sigma, dm.test_dataloader(),
                                 pruning.strategies, fractions(**pruning.fractions), pruning.repeats, pruning.seed)
        return curves, decoded.weights_sha256
