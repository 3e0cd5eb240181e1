"""Probabilistic weight fixing (paper 002) as a family: from a trained network, T fixing rounds,
then the fixed network as a codebook file (model.cbk).

    build         settings checked (one-line errors), the baseline loaded (init_from), every Linear
                  and Conv2d made Bayes-by-backprop with eq. 8's sigmas
    fit           the training phase is the method: the rounds (train -> test -> fix, rounds.py),
                  each under its own Trainer (the task's single trainer.fit cannot interleave fixing
                  and testing with training) on the run's strategy (trainer=ddp: data-parallel,
                  ctx.strategy); resumable from pwfn_rounds.pt
    export        writes only: the plain network holding the fixed values and one codebook per
                  weight and bias tensor (export.py); results.json gets the figures; rank 0 only
                  under trainer=ddp (the task returns on the other ranks after fit)
    after_decode  the decoded network must equal the fixed one exactly (every state entry, bit for
                  bit) and show the reported unique values and entropy; figure1.npz, rounds.json

`test_error_uncompressed` is the Bayesian network at its means before any round, i.e. the baseline
the run started from (fit measures it before the rounds).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from nncompress.core.errors import UserError
from nncompress.core.evaluation import test_error
from nncompress.core.results import write_results
from nncompress.methods.base import BuildContext, Family, register
from nncompress.methods.baseline import load_baseline_into
from nncompress.methods.frontier_rows import FrontierRows, Knob
from nncompress.methods.pwfn.export import coded_tensors, compressibility, layer_names_of, to_codebook
from nncompress.methods.pwfn.module import PwfnModule
from nncompress.methods.pwfn.rounds import STATE, TrainerOptions, run_rounds
from nncompress.methods.pwfn.settings import PwfnSettings, check_model, settings_of
from nncompress.methods.pwfn.snapshots import save_figure1


@register
class PwfnFamily(Family):
    key, codec = "pwfn", "codebook"
    schemas = {("method", "pwfn_schema"): PwfnSettings}
    # paper 002 reports entropy bits: its ratio is the entropy ratio (export.py)
    frontier = (FrontierRows("pwfn", "PWFN", "P", "tab:green", "α {alpha}", (Knob("alpha", "alpha", "method.alpha"),),
                             paper_ratio=("ratio_paper", "ratio_entropy")),)

    def check(self, cfg) -> None:
        settings_of(cfg)
        check_model(cfg)
        if not cfg.get("init_from"):
            raise UserError("method=pwfn starts from a trained network: set init_from=auto (trains the baseline "
                            "once) or init_from=<a method=baseline run dir>")

    def build(self, cfg, ctx: BuildContext) -> PwfnModule:
        self.check(cfg)  # again: build may be called without the task's check
        settings = settings_of(cfg)
        spec = ctx.network.spec
        _check_baseline_model(ctx.init_from, cfg.model.name)
        net = spec.build()
        load_baseline_into(net, ctx.init_from, spec)
        module = PwfnModule(net, settings)
        if not module.layers():
            raise UserError(f"model={cfg.model.name} has no Linear or Conv2d layer to fix")
        return module.to(ctx.dm.device)

    def describe(self, module: PwfnModule, ctx: BuildContext) -> dict:
        return {"n_fixable": module.n_weights()}

    def fit_started(self, ctx: BuildContext) -> bool:
        return (ctx.run_dir / STATE).exists()

    def fit(self, module: PwfnModule, cfg, ctx: BuildContext, trainer) -> dict:
        """The rounds (paper 002's appendix: train -> test -> fix until every weight is fixed).
        `train_steps` (the rounds' optimiser steps) is where the task logs its final test error, so
        the step axis stays increasing (W&B drops a step that goes back)."""
        module.eval()  # at the means: no sampled weights, no draw from the generator the rounds use
        baseline_error = test_error(module.predict, None, ctx.dm.test_dataloader())
        t = cfg.trainer
        options = TrainerOptions(accelerator=t.accelerator, precision=t.precision, deterministic=t.deterministic,
                                 progress_bar=bool(t.progress_bar), root_dir=ctx.run_dir, **ctx.strategy,
                                 callbacks=ctx.fit_callbacks)
        outcome = run_rounds(module, ctx.dm, options, ctx.run_dir, ctx.loggers)
        ctx.handover["outcome"] = outcome
        last = outcome.history[-1]
        s = module.settings
        return {"test_error_uncompressed": baseline_error, "train_steps": outcome.train_steps,
                "epochs": outcome.epochs, "train_ranks": outcome.ranks, "rounds": outcome.history,
                "n_rounds": len(outcome.history),
                "fraction_fixed": last["fraction_fixed"], "omega": max(r["omega"] for r in outcome.history),
                "delta": last["delta"], "test_error_before_last_fixing": last["test_error_before_fixing"],
                "test_error_fixed": last["test_error_after_fixing"], "fixing": s.fixing, "alpha": s.alpha,
                "gamma": s.gamma, "epochs_per_round": s.epochs_per_round, "schedule": list(s.schedule),
                "max_omega": s.max_omega, "zero_fix": s.zero_fix, "push_fixed": s.push_fixed, "figure": s.figure}

    def export(self, module: PwfnModule, cfg, ctx: BuildContext):
        """The fixed network as model.cbk; no training here (the rounds ran in fit)."""
        payload, plain, stats = to_codebook(ctx.network.spec, module.net, ctx.network.n_params)
        ctx.handover.update(network=plain, stats=stats)  # what after_decode checks the file against
        return payload, {**stats, "nonzero_fraction": _nonzero_fraction(module)}

    def after_decode(self, module: PwfnModule, decoded, cfg, ctx: BuildContext) -> dict:
        """Decoded == fixed, bit for bit; the file's weights show the reported compressibility."""
        exported = ctx.handover
        plain, stats, outcome = exported["network"], exported["stats"], exported["outcome"]
        ours, theirs = plain.state_dict(), decoded.network.state_dict()
        for name, value in ours.items():
            if not torch.equal(value.cpu(), theirs[name].cpu()):
                raise RuntimeError(f"decoded {name} differs from the fixed network: the codebook file is not exact")
        decoded_tensors = {name: theirs[name] for name in coded_tensors(module.net)}
        again = compressibility(decoded_tensors, layer_names_of(decoded_tensors))
        for key in ("unique_values", "unique_values_per_layer", "entropy_bits"):
            if again[key] != stats[key]:
                raise RuntimeError(f"{key} of the decoded weights ({again[key]}) differs from the reported "
                                   f"{stats[key]}")
        if outcome.snapshots:
            save_figure1(ctx.run_dir / "figure1.npz", outcome.snapshots)
        write_results(ctx.run_dir, {"rounds": outcome.history}, name="rounds.json")
        (ctx.run_dir / STATE).unlink(missing_ok=True)  # finished: a rerun in this dir starts afresh
        return {"decoded_equals_fixed": True, "unique_values_decoded": again["unique_values"],
                "entropy_bits_decoded": again["entropy_bits"]}


def _check_baseline_model(init_from: Path, model: str) -> None:
    """A baseline run of another model fails here with its cause, not as a weight-count mismatch."""
    results = Path(init_from) / "results.json"
    if not results.exists():
        return
    trained = json.loads(results.read_text()).get("model")
    if trained not in (None, model):
        raise UserError(f"init_from: {init_from} holds a baseline of model={trained}, not model={model}")


def _nonzero_fraction(module: PwfnModule) -> float:
    tensors = coded_tensors(module.net).values()
    return sum(int((t != 0).sum()) for t in tensors) / sum(t.numel() for t in tensors)

