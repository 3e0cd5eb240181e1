"""Tasks a run can perform (`task=` on the command line)."""
from __future__ import annotations

from pathlib import Path

from nncompress.core.errors import UserError


def _train(cfg, run_dir):
    from nncompress.methods.base import get_family
    from nncompress.tasks.pretrain import resolve_init_from
    from nncompress.tasks.train import train

    get_family(cfg.method.family).check(cfg)  # before any work, the baseline's pretraining included
    return train(resolve_init_from(cfg), run_dir)


def _pretrain(cfg, run_dir):
    """The baseline init_from=auto would use (dataset, model, scale, seed), trained if missing.
    Run before a parallel sweep (joblib, SLURM) so its jobs do not race to train the same one."""
    import json

    from omegaconf import open_dict

    from nncompress.tasks.pretrain import resolve_init_from

    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.init_from = "auto"
    base = resolve_init_from(cfg).init_from
    record = json.loads((Path(base) / "results.json").read_text())
    print(f"baseline: {base} (test error {record.get('test_error')} %)")
    return {**record, "baseline_dir": str(base)}


def _decode(cfg, run_dir):
    from nncompress.tasks.decode import decode

    return decode(cfg, run_dir)


def _prune_curve(cfg, run_dir):
    from nncompress.tasks.prune_curve import prune_curve

    return prune_curve(cfg, run_dir)


TASKS = {"train": _train, "pretrain": _pretrain, "decode": _decode, "prune_curve": _prune_curve}


def run_task(cfg, run_dir):
    from nncompress.tasks.quiet import quiet

    quiet()
    if cfg.task not in TASKS:
        raise UserError(f"unknown task '{cfg.task}'; choose one of {sorted(TASKS)}")
    return TASKS[cfg.task](cfg, run_dir)
