"""init_from=auto: the baseline a method starts from, trained once per data set, model, scale and
seed into paths.pretrained_dir and reused by every later job (run sweeps that share it one job at
a time, or pretrain first)."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, open_dict

from nncompress.tasks.builders import compose_like_this_run
from nncompress.tasks.train import train


def pretrained_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.pretrained_dir) / f"{cfg.dataset.name}_{cfg.model.name}_{cfg.scale.name}_s{cfg.seed}"


def resolve_init_from(cfg: DictConfig) -> DictConfig:
    """cfg with init_from=auto replaced by the baseline's run dir, training it first if needed."""
    if cfg.get("init_from") != "auto":
        return cfg
    run_dir = pretrained_dir(cfg)
    if not (run_dir / "results.json").exists():
        base = compose_like_this_run(keep=("dataset", "model", "scale", "seed", "trainer", "paths"),
                                     extra=["method=baseline", "coding=none", "logger=csv"],
                                     pin=("dataset", "model", "scale", "trainer"))
        run_dir.mkdir(parents=True, exist_ok=True)
        train(base, run_dir)
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.init_from = str(run_dir)
    return cfg
