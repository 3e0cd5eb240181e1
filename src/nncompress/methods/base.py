"""What every method family shares: the classifier metrics, the `Family` interface and its registry.

A family is one package under `methods/` (one per paper: `mkl`, `ibc`, …) that registers a
`Family` subclass with `@register`. `tasks/train.py` knows nothing else about it:

    family.check(cfg)                             bad settings refused before any work
    module = family.build(cfg, ctx)               the LightningModule, from config
    record |= family.fit(module, cfg, ctx, trainer)   the training phase if family.trains: Lightning's
                                                  fit, or the family's own driver (PWFN's rounds)
    record |= family.describe(module, ctx)        results.json keys of the trained model
    payload, keys = family.export(module, cfg, ctx)   what `family.codec` writes, and results.json keys
                                                      (may raise core.errors.Paused; resumes on rerun)
    ... the codec writes the file, the task reads it back and evaluates what decodes ...
    record |= family.after_decode(module, decoded, cfg, ctx)   checks, extra artifacts and keys

Training is separate from coding: `fit` trains and the module holds distributions; `export` turns
the trained module into a payload and keeps any coding state of its own (`ctx.handover`), never on
the module. Beside the run, a family owns its report rows (`frontier`, plain data that report/
renders) and its prune-curve support (`prune_curves`, or a one-line refusal).

`family.codec` names the codec (`coding.codec.CODECS`) that `coding=auto` picks, `family.codecs`
any others its export can feed (chosen by `coding=NAME`); `schemas` are
structured configs registered in Hydra's ConfigStore at start-up; `callbacks(cfg, ctx)` adds
Lightning callbacks (e.g. W&B plots), whose `on_export_end` runs once the file is decoded.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import lightning as L
import torch
import torch.nn.functional as F

from nncompress.core.errors import UserError


class ClassifierModule(L.LightningModule):
    """Subclasses provide `eval_weights()` (the coded vector evaluated) or override `predict`."""

    def eval_weights(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x, self.eval_weights())

    def _eval_step(self, batch, stage: str):
        x, y = batch
        logits = self.predict(x)
        loss = F.cross_entropy(logits, y)
        err = (logits.argmax(1) != y).float().mean() * 100.0
        self.log(f"{stage}/ce", loss, prog_bar=False, batch_size=len(y))
        self.log(f"{stage}/error", err, prog_bar=stage == "val", batch_size=len(y))

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")


def linear_decay(start: int, end: int, final: float):
    """The factor on a learning rate at a step: 1 until `start`, then linearly to `final` at `end`,
    `final` after it (for torch.optim.lr_scheduler.LambdaLR)."""
    def factor(step: int) -> float:
        return final + (1.0 - final) * min(1.0, max(0.0, (end - step) / (end - start)))
    return factor


@dataclass
class BuildContext:
    """What a family may use besides the config: the data, the architecture, where to write."""

    dm: Any                          # the datamodule, set up (tensors on the training device)
    network: Any                     # models.coded.CodedNetwork of cfg.model (its .spec: the ArchSpec)
    run_dir: Path
    init_from: Optional[Path] = None  # a trained baseline run dir (init_from resolved by tasks.pretrain)
    loggers: list = field(default_factory=list)
    # What one phase of this run hands the next (fit -> export -> after_decode): e.g. the MRC
    # encoder's coded blocks, PWFN's rounds. Here, not on the module (which holds distributions
    # only) nor on the family object (shared by every run in the process).
    handover: dict = field(default_factory=dict)
    # For a family whose training is several fits under Trainers of its own (PWFN's rounds): the
    # Trainer keyword arguments of this run's strategy (trainer=ddp: strategy, devices, num_nodes)
    # and a factory of the callbacks each such fit needs (tasks.ddp.ShardedBatches), fresh per fit.
    strategy: dict = field(default_factory=dict)
    fit_callbacks: Callable[[], list] = list


class ExportCallback(L.Callback):
    """A Lightning callback with one more hook, called by the train task once the file is written,
    read back and evaluated (Lightning has no hook after `fit` that sees the artifacts)."""

    def on_export_end(self, trainer: L.Trainer, module: L.LightningModule, record: dict) -> None:
        pass


class Family:
    key: str = ""           # the paper key: mkl, ibc, …
    codec: str = "none"     # the codec `coding=auto` picks for this family's methods
    codecs: tuple = ()      # further codecs it can write instead (coding=NAME), e.g. mkl: ("orc", "pfr")
    trains: bool = True     # False: post-training compression, no training phase
    trains_with: tuple = ()  # coding keys that shape training too (trained_from's fingerprint), mkl: bits_per_block
    # True: under trainer=ddp every rank calls export (coding sharded across ranks); ranks > 0 get
    # (None, {}) back and rank 0 writes the file. False: ranks > 0 stop after training.
    shards_export: bool = False
    schemas: dict = {}      # {(config group, name): dataclass} for Hydra's ConfigStore
    frontier: tuple = ()    # FrontierRows (methods/frontier_rows.py): its methods' rows on the frontier

    def check(self, cfg) -> None:
        """Refuse bad settings with a one-line UserError; runs before any work, even before
        init_from=auto pretrains a baseline."""

    def build(self, cfg, ctx: BuildContext) -> L.LightningModule:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, module, ctx: BuildContext) -> dict:
        return {}

    def fit(self, module, cfg, ctx: BuildContext, trainer: L.Trainer) -> dict:
        """The training phase (when `trains`): Lightning's fit, resumed from the run dir's last.ckpt
        where one exists, then the trained state saved there. A family whose training is not one fit
        (PWFN's train -> fix rounds) drives its own here, resumably (may raise Paused). Returns
        results.json keys."""
        last = last_checkpoint(ctx.run_dir)
        trainer.fit(module, datamodule=ctx.dm, ckpt_path=str(last) if last.exists() else None)
        # The trained network (periodic saves may stop short of the last step); the whole state, said
        # explicitly (Lightning logs a note when weights_only is left unset).
        trainer.save_checkpoint(last, weights_only=False)
        return {}

    def fit_started(self, ctx: BuildContext) -> bool:
        """True when an interrupted training phase of the family's own resumes in this run dir (the
        metrics it logged are kept); Lightning's fit resumes from last.ckpt by itself."""
        return False

    def export_started(self, ctx: BuildContext) -> bool:
        """True when an interrupted export can resume (training is then not repeated)."""
        return False

    def export(self, module, cfg, ctx: BuildContext):  # pragma: no cover - interface
        raise NotImplementedError(f"family '{self.key}' writes no file; use coding=none")

    def after_decode(self, module, decoded, cfg, ctx: BuildContext) -> dict:
        return {}

    def callbacks(self, cfg, ctx: BuildContext) -> list:
        return []

    def prune_curves(self, run_dir: Path, cfg, pruning, dm) -> tuple:
        """task=prune_curve on one finished run of this family (`cfg` its composed config,
        `pruning` the task's pruning settings): (curves, sha256 of the weights they were measured
        on). Families without a posterior to prune by refuse."""
        raise UserError(f"task=prune_curve: method family '{self.key}' has no prune curves "
                        f"(families with them: {sorted(k for k, f in FAMILIES.items() if f.has_prune_curves())})")

    def has_prune_curves(self) -> bool:
        return type(self).prune_curves is not Family.prune_curves


def last_checkpoint(run_dir: Path) -> Path:
    """Where the training phase keeps its resumable Lightning checkpoint."""
    return Path(run_dir) / "checkpoints" / "last.ckpt"


FAMILIES: dict = {}


def register(cls):
    """Class decorator: make a family available under its key (`method.family` in the config)."""
    FAMILIES[cls.key] = cls()
    return cls


def discover() -> dict:
    """Import every family package under methods/ (each registers itself); returns FAMILIES."""
    import nncompress.methods as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "base":
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    return FAMILIES


def get_family(key: str) -> Family:
    if key not in FAMILIES:
        discover()
    if key not in FAMILIES:
        raise UserError(f"unknown method family '{key}'; choose one of {sorted(FAMILIES)}")
    return FAMILIES[key]


def check_kwargs(kwargs: dict, target, where: str, exclude=(), extra=()) -> None:
    """A misspelt key in a method's config fails at start-up, listing the valid ones: the
    parameters of `target` less `exclude`, plus `extra`."""
    import inspect

    valid = (set(inspect.signature(target).parameters) - set(exclude)) | set(extra)
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {unknown}; valid: {sorted(valid)}")
