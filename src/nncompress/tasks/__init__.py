"""Tasks a run can perform (`task=` on the command line)."""
from __future__ import annotations

from pathlib import Path

from nncompress.core.errors import UserError


def _train(cfg, run_dir):
    from nncompress.methods.base import get_family
    from nncompress.tasks.pretrain import resolve_init_from
    from nncompress.tasks.train import train
    from nncompress.tasks.trained import resolve_trained_from

    get_family(cfg.method.family).check(cfg)  # before any work, the baseline's pretraining included
    cfg = resolve_init_from(cfg)
    return train(resolve_trained_from(cfg, run_dir, train), run_dir)


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
    from nncompress.models.targets import trusted
    from nncompress.tasks.decode import decode

    with trusted(bool(cfg.get("trust"))):
        return decode(cfg, run_dir)


def _prune_curve(cfg, run_dir):
    from nncompress.tasks.prune_curve import prune_curve

    return prune_curve(cfg, run_dir)


def _export(cfg, run_dir):
    """file=PATH export_to=NET.safetensors|NET.onnx [trust=true]: the decoded network, checked
    against itself on a zero batch of the file's input shape."""
    import torch

    from nncompress.coding.codec import read_file
    from nncompress.models.targets import trusted
    from nncompress.tasks.export import decoded_module, export_module

    if not cfg.get("file") or not cfg.get("export_to"):
        raise UserError("task=export needs file=PATH (a compressed model) and export_to=OUT.safetensors|OUT.onnx")
    with trusted(bool(cfg.get("trust"))):
        _, decoded = read_file(cfg.file)
    spec = decoded.spec
    example = torch.zeros(2, spec.in_channels, spec.image_size, spec.image_size)
    record = export_module(decoded_module(decoded), Path(cfg.export_to), example=example)
    print(f"exported {cfg.file} to {record['path']} ({record['format']}; outputs within {record['max_abs_diff']:.2g} "
          f"of the decoded network's)")
    return record


TASKS = {"train": _train, "pretrain": _pretrain, "decode": _decode, "prune_curve": _prune_curve, "export": _export}


def run_task(cfg, run_dir):
    from nncompress.tasks.config import check_config
    from nncompress.tasks.quiet import quiet

    quiet()
    if cfg.task not in TASKS:
        raise UserError(f"unknown task '{cfg.task}'; choose one of {sorted(TASKS)}")
    check_config(cfg)  # the schemas' range checks, before any work
    return TASKS[cfg.task](cfg, run_dir)
