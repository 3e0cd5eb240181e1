"""Tasks a run can perform (`task=` on the command line)."""
from __future__ import annotations


def _train(cfg, run_dir):
    from nncompress.tasks.train import train

    return train(cfg, run_dir)


def _decode(cfg, run_dir):
    from nncompress.tasks.decode import decode

    return decode(cfg, run_dir)


TASKS = {"train": _train, "decode": _decode}


def run_task(cfg, run_dir):
    if cfg.task not in TASKS:
        raise ValueError(f"unknown task '{cfg.task}'; choose one of {sorted(TASKS)}")
    return TASKS[cfg.task](cfg, run_dir)
