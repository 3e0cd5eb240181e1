"""Small factories: config -> data module, architecture spec, codec config, trainer, loggers."""
from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf, open_dict

from nncompress.core.errors import UserError
from nncompress.models.spec import ArchSpec
from nncompress.tasks.dashboard import build_wandb_logger


def build_datamodule(cfg: DictConfig):
    dm = instantiate(cfg.dataset)
    dm.setup()
    return dm


def model_node(model_cfg) -> dict:
    """A `_target_` model's node (models.targets): its target and every key that is not ours."""
    from nncompress.tasks.config import MODEL_KEYS

    node = OmegaConf.to_container(model_cfg, resolve=True)
    return {"_target_": node["_target_"], **{k: v for k, v in node.items() if k not in MODEL_KEYS}}


def build_spec(cfg: DictConfig, dm) -> ArchSpec:
    c, h, _ = dm.input_shape
    raw = cfg.model.get("hashing")
    hashing = OmegaConf.to_container(raw, resolve=True) if raw is not None else {}
    if cfg.model.get("_target_"):
        from nncompress.models.targets import TargetError

        spec = ArchSpec.of_target(model_node(cfg.model), int(c), int(dm.num_classes), int(h), hashing)
        spec.hash_seed = int(cfg.model.hash_seed)
        try:
            spec.validate()
        except (TargetError, ValueError) as exc:
            raise UserError(f"model: {exc}") from None
        return spec
    from nncompress.tasks.config import MODEL_KEYS

    extra = sorted(set(cfg.model) - set(MODEL_KEYS))
    if extra:
        raise UserError(f"model={cfg.model.name} is a named architecture and takes no {extra}; its keys: "
                        f"{sorted(k for k in cfg.model if k in MODEL_KEYS)} (or give model._target_=...)")
    return ArchSpec(cfg.model.arch, hashing, int(c), int(dm.num_classes), int(h), int(cfg.model.hash_seed))


def compose_like_this_run(keep=None, drop=(), extra=(), pin=()) -> DictConfig:
    """The config this run would have with `extra` overrides: its own overrides whose top-level key
    is in `keep` (all if None) and not in `drop`, recomposed with `extra` appended. The config
    groups in `pin` keep this run's choice even where no override made it (a method config may
    pick the model, and `extra` may replace that method)."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    def top(o: str) -> str:
        return o.lstrip("+~").split("=")[0].split(".")[0]

    hc = HydraConfig.get()
    overrides = [o for o in hc.overrides.task if (keep is None or top(o) in keep) and top(o) not in drop]
    given = {top(o) for o in overrides if "." not in o.split("=")[0]}
    choices = [f"{g}={hc.runtime.choices[g]}" for g in pin if g not in given and hc.runtime.choices.get(g)]
    return compose(config_name="config", overrides=[*choices, *overrides, *extra])


def resolve_coding(cfg: DictConfig, codec: str, also: tuple = ()) -> DictConfig:
    """cfg with `coding` set to the method's codec when coding=auto; a codec the method does not
    write (neither `codec` nor one of `also`, `Family.codecs`) is refused before any work."""
    name = cfg.coding.name
    if name not in ("auto", "none", codec, *also):
        others = "".join(f", coding={c}" for c in also)
        raise UserError(f"coding={name} does not code method={cfg.method.name}, which writes "
                        f"{codec if codec != 'none' else 'no file'}; use coding={codec} (or auto){others} "
                        f"or coding=none")
    if name != "auto":
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        if codec == "none":
            cfg.coding = {"name": "none"}
        else:
            cfg.coding = compose_like_this_run(drop=("coding",), extra=[f"coding={codec}"]).coding
    return cfg


def build_loggers(cfg: DictConfig, run_dir: Path):
    """metrics.csv always; a W&B run too with logger=wandb (its layout: tasks/dashboard.py)."""
    loggers = [CSVLogger(save_dir=str(run_dir), name="", version="")]
    if cfg.logger.get("wandb"):
        loggers.append(build_wandb_logger(cfg, run_dir))
    return loggers


def checkpoint_step(path: Path) -> int:
    """The global step a Lightning checkpoint was saved at (where a resumed fit starts)."""
    return int(torch.load(path, map_location="cpu", weights_only=False).get("global_step", 0))


def keep_csv_rows(loggers, run_dir: Path, before: float) -> int:
    """Keep the metrics.csv rows an interrupted run wrote at steps < `before`; returns how many.

    Lightning's CSVLogger deletes metrics.csv when it first writes, so a run resumed from its
    last.ckpt (`before` = the checkpoint's step) or from an interrupted export (`before` = inf)
    would lose the first part's metrics; rows from `before` on are redone by this run. The file
    is moved aside and written back through the logger (keys unioned), so a second kill in
    between loses nothing either. `before` <= 0: the run starts afresh; Lightning's own behaviour."""
    csv_logger = next((lg for lg in loggers if isinstance(lg, CSVLogger)), None)
    path = Path(run_dir) / "metrics.csv"
    aside = path.with_name(path.name + ".resume")
    if csv_logger is None or before <= 0 or not (path.exists() or aside.exists()):
        return 0
    if path.exists():  # newer than any file left aside (written back from it)
        path.replace(aside)
    with aside.open(newline="") as f:
        rows = [{k: v for k, v in r.items() if k and v not in ("", None)} for r in csv.DictReader(f)]
    rows = [r for r in rows if "step" in r and float(r["step"]) < before]
    writer = csv_logger.experiment  # nothing left to delete
    writer.metrics = rows + writer.metrics
    writer.save()
    aside.unlink()
    return len(rows)


def build_trainer(cfg: DictConfig, run_dir: Path, loggers, has_val: bool, callbacks=()) -> L.Trainer:
    t = cfg.trainer
    checkpoint = ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), save_last=True, save_top_k=0,
                                 every_n_train_steps=int(t.checkpoint_every_n_steps))
    from nncompress.tasks.ddp import ShardedBatches, strategy_kwargs
    from nncompress.tasks.progress import StepProgressBar

    bar = [StepProgressBar()] if t.progress_bar else []  # counts steps, not Lightning's per-epoch batches

    return L.Trainer(
        max_steps=int(cfg.method.train_steps), accelerator=t.accelerator, **strategy_kwargs(t),
        logger=loggers, callbacks=[checkpoint, ShardedBatches(), *bar, *callbacks],
        log_every_n_steps=int(t.log_every_n_steps),
        check_val_every_n_epoch=None, val_check_interval=int(t.val_check_interval) if has_val else None,
        limit_val_batches=None if has_val else 0, num_sanity_val_steps=0,
        enable_progress_bar=bool(t.progress_bar), enable_model_summary=False,
        default_root_dir=str(run_dir), precision=t.precision, deterministic=t.deterministic)
