"""What every method family shares: the classifier metrics, the `Family` interface and its registry.

A family is one package under `methods/` (one per paper: `mkl`, `ibc`, …) that registers a
`Family` subclass with `@register`. `tasks/train.py` knows nothing else about it:

    family.check(cfg)                             bad settings refused before any work
    module = family.build(cfg, ctx)               the LightningModule, from config
    trainer.fit(module) if family.trains          (families that compress without training skip it)
    record |= family.describe(module, ctx)        results.json keys of the trained model
    payload, keys = family.export(module, cfg, ctx)   what `family.codec` writes, and results.json keys
                                                      (may raise core.errors.Paused; resumes on rerun)
    ... the codec writes the file, the task reads it back and evaluates what decodes ...
    record |= family.after_decode(module, decoded, cfg, ctx)   checks, extra artifacts and keys

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
from typing import Any, Optional

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


class ExportCallback(L.Callback):
    """A Lightning callback with one more hook, called by the train task once the file is written,
    read back and evaluated (Lightning has no hook after `fit` that sees the artifacts)."""

    def on_export_end(self, trainer: L.Trainer, module: L.LightningModule, record: dict) -> None:
        pass


class Family:
    key: str = ""           # the paper key: mkl, ibc, …
    codec: str = "none"     # the codec `coding=auto` picks for this family's methods
    codecs: tuple = ()      # further codecs it can write instead (coding=NAME), e.g. mkl: ("orc", "pfr")
    trains: bool = True     # False: post-training compression, no trainer.fit
    trains_with: tuple = ()  # coding keys that shape training too (trained_from's fingerprint), mkl: bits_per_block
    # True: under trainer=ddp every rank calls export (coding sharded across ranks); ranks > 0 get
    # (None, {}) back and rank 0 writes the file. False: ranks > 0 stop after training.
    shards_export: bool = False
    schemas: dict = {}      # {(config group, name): dataclass} for Hydra's ConfigStore

    def check(self, cfg) -> None:
        """Refuse bad settings with a one-line UserError; runs before any work, even before
        init_from=auto pretrains a baseline."""

    def build(self, cfg, ctx: BuildContext) -> L.LightningModule:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, module, ctx: BuildContext) -> dict:
        return {}

    def export_started(self, ctx: BuildContext) -> bool:
        """True when an interrupted export can resume (training is then not repeated)."""
        return False

    def export(self, module, cfg, ctx: BuildContext):  # pragma: no cover - interface
        raise NotImplementedError(f"family '{self.key}' writes no file; use coding=none")

    def after_decode(self, module, decoded, cfg, ctx: BuildContext) -> dict:
        return {}

    def callbacks(self, cfg, ctx: BuildContext) -> list:
        return []


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
