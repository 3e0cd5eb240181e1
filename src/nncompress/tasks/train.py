"""task=train, the same for every family:

    family fit (if the family trains) -> family export -> codec write -> read back from disk
    -> evaluate what decodes -> results.json

`method.family` picks the family (`methods.base.FAMILIES`), the family names its codec, and
`coding=none` stops after evaluating the trained model. Nothing here knows a family.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from nncompress.coding.codec import get_codec, read_file, write_file
from nncompress.core.errors import Paused
from nncompress.core.evaluation import test_error
from nncompress.core.results import write_results
from nncompress.methods.base import BuildContext, ExportCallback, Family, get_family, last_checkpoint
from nncompress.models.coded import CodedNetwork
from nncompress.tasks.builders import (
    build_datamodule,
    build_loggers,
    build_spec,
    build_trainer,
    checkpoint_step,
    keep_csv_rows,
    resolve_coding,
)
from nncompress.tasks.dashboard import finish_wandb, wandb_keys

log = logging.getLogger(__name__)


def _log_metrics(loggers, metrics: dict, step: int):
    for lg in loggers:
        lg.log_metrics(metrics, step=step)


def train(cfg: DictConfig, run_dir: Path, dm=None, spec=None, code: bool = True) -> dict:
    """`dm`, `spec`: a datamodule and architecture given in-process (the Python API) instead of
    the ones cfg.dataset and cfg.model describe. `code=False`: stop after evaluating the trained
    model, as coding=none does, whatever cfg.coding says (trained_from=auto's shared training)."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    family = get_family(cfg.method.family)
    cfg = resolve_coding(cfg, family.codec, family.codecs)  # fails before any training
    L.seed_everything(int(cfg.seed), verbose=False)
    if dm is None:
        dm = build_datamodule(cfg)
    else:
        dm.setup()
    network = CodedNetwork(spec if spec is not None else build_spec(cfg, dm))
    loggers = build_loggers(cfg, run_dir)
    init_from = cfg.get("init_from")
    if init_from == MODEL_START:  # the model as built is the trained start (a library's pretrained weights)
        init_from = save_start(network, run_dir / "start", cfg.model.name)
    from nncompress.tasks.ddp import ShardedBatches, strategy_kwargs

    ctx = BuildContext(dm=dm, network=network, run_dir=run_dir, loggers=loggers,
                       init_from=Path(init_from).expanduser() if init_from else None,
                       strategy=strategy_kwargs(cfg.trainer), fit_callbacks=lambda: [ShardedBatches()])
    # A run started again with the same run dir (killed, or paused while coding) goes on where it stopped:
    # training from its periodic last.ckpt, or an interrupted export without training again.
    last = last_checkpoint(run_dir)
    exporting = family.export_started(ctx)
    fits = family.trains and not exporting
    resume_step = checkpoint_step(last) if fits and last.exists() else 0
    if rank_zero_only.rank == 0:  # (trainer=ddp: the other ranks run this function too)
        keep_csv_rows(loggers, run_dir, before=math.inf if exporting or family.fit_started(ctx) else resume_step)
    module = family.build(cfg, ctx)
    if exporting and family.trains and last.exists():
        # The trained state the first process evaluated and began coding: this process does not fit
        # (the coding state restores the module for the encoder), so load it for the evaluation before coding.
        module.load_state_dict(torch.load(last, map_location="cpu", weights_only=False)["state_dict"])
    record = {"task": "train", "method": cfg.method.name, "model": cfg.model.name, "arch": cfg.model.arch,
              "dataset": cfg.dataset.name, "seed": int(cfg.seed), "train_steps": int(cfg.method.train_steps),
              "scale": cfg.scale.name, "n_params": network.n_params, "n_coded_params": network.n_coded}
    if fits and type(family).fit is Family.fit:  # Lightning's fit (a family's own driver resumes by itself)
        record["resumed_from_step"] = resume_step  # 0: trained from the start in this process
    if cfg.get("trained_from"):
        record["trained_from"] = str(cfg.trained_from)  # the run whose trained state this run coded

    trainer = build_trainer(cfg, run_dir, loggers, dm.has_val, callbacks=family.callbacks(cfg, ctx))
    try:
        fit_keys = family.fit(module, cfg, ctx, trainer) if fits else {}
    except Paused as exc:
        return _paused(exc, run_dir, loggers)
    if trainer.global_rank != 0 and not (family.shards_export and code and cfg.coding.name != "none"):
        return {"status": "worker", "rank": trainer.global_rank}  # rank 0 evaluates, exports and writes
    module.to(dm.device)
    module.setup("test")
    module.eval()
    record["train_seconds"] = time.perf_counter() - start
    err = test_error(module.predict, None, dm.test_dataloader())
    # fit_keys may say what the uncompressed network is (PWFN: the baseline before its rounds)
    record.update(test_error_uncompressed=err, test_error=err)
    record.update(fit_keys)
    record.update(family.describe(module, ctx))

    if code and cfg.coding.name != "none":
        try:
            exported = _export(cfg, family, module, ctx)
        except Paused as exc:
            return _paused(exc, run_dir, loggers, record)
        if exported is None:  # a rank > 0 of a sharded export: its share is with rank 0, which writes
            return {"status": "worker", "rank": trainer.global_rank}
        record.update(exported)
        record["test_error"] = record["test_error_compressed"]

    err_uncompressed = record["test_error_uncompressed"]
    step = int(record["train_steps"])
    _log_metrics(loggers, {"test/error_uncompressed": err_uncompressed, "test/error": record["test_error"]},
                 step=step + 1)
    for cb in trainer.callbacks:
        if isinstance(cb, ExportCallback):
            cb.on_export_end(trainer, module, record)
    for lg in loggers:
        lg.finalize("success")
    record["wall_seconds"] = time.perf_counter() - start
    record.update(wandb_keys(loggers))
    finish_wandb(loggers, write_results(run_dir, record))
    (run_dir / PAUSED).unlink(missing_ok=True)  # a resumed run is finished: results.json alone describes it
    log.info("test error %.2f %% (uncompressed %.2f %%)", record["test_error"], err_uncompressed)
    return record


PAUSED = "paused.json"  # a paused run's record so far (report.collect: status "paused")


def _paused(exc: Paused, run_dir: Path, loggers, record: dict | None = None) -> dict:
    """Save what was logged and, in paused.json, the record so far (paused while coding: the
    evaluation before coding, the model's sizes) so that a report can show a partial run as such."""
    for lg in loggers:  # what was logged so far reaches metrics.csv (the resumed run keeps those rows)
        lg.save()
    if rank_zero_only.rank == 0:
        write_results(run_dir, {**(record or {}), "paused": str(exc)}, name=PAUSED)
    print(f"{exc}; state saved in {run_dir}. Resume with the same command and hydra.run.dir={run_dir}")
    return {"status": "paused", "test_error": None}


MODEL_START = "model"  # init_from=model


def save_start(network: CodedNetwork, run_dir: Path, name: str) -> Path:
    """A network's own weights as a `method=baseline` run dir (checkpoint + results.json): the
    start that every family's `init_from` reads, for a model whose weights are already trained
    (init_from=model, or a module given to nncompress.compress)."""
    import json

    import torch

    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    state = {"weights": network.init_vector(),
             **{f"network.net.{k}": v.detach().clone() for k, v in network.buffer_state().items()}}
    torch.save({"state_dict": state, "global_step": 0}, run_dir / "checkpoints" / "last.ckpt")
    (run_dir / "results.json").write_text(json.dumps({"method": "given", "model": name, "task": "given"}))
    return run_dir


def _export(cfg, family, module, ctx: BuildContext) -> dict:
    """Family export -> the codec's file -> read back from disk -> evaluate what a decoder rebuilds.
    None on a rank > 0 of a sharded export (trainer=ddp, Family.shards_export)."""
    codec = get_codec(cfg.coding.name)
    payload, keys = family.export(module, cfg, ctx)
    if payload is None:  # Family.shards_export: a rank > 0, whose blocks rank 0 assembled
        return None
    path = ctx.run_dir / codec.filename
    nbytes, accounting = write_file(path, codec, payload, ctx.network.n_params)
    _, decoded = read_file(path)
    decoded.to(ctx.dm.device)
    n_params = ctx.network.n_params
    record = {**keys, **accounting, "compressed_bytes": nbytes, "ratio_file": 32 * n_params / (8 * nbytes),
              "weights_sha256": decoded.weights_sha256,
              "test_error_compressed": test_error(decoded, None, ctx.dm.test_dataloader())}
    record.update(family.after_decode(module, decoded, cfg, ctx))
    return record
