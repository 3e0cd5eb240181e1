"""task=prune_curve: test accuracy of a compressed sample as more of its weights are zeroed.

Acts on what the decoder rebuilds from model.mrc (never the means) and on the posterior each
variable was coded from (posterior.npz); adds the strategies' curves to pruning.json in the run
dir, replacing only those strategies' earlier curves (`pruning=kl` then `pruning=random` keeps
both, each with its own settings). `run=` may be one run dir or a sweep dir (every run with a
model.mrc beneath it).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from nncompress.coding.codec import read_file
from nncompress.core.errors import UserError
from nncompress.pruning.curves import accuracy_curves, fractions, update_curves_file
from nncompress.tasks.builders import build_datamodule

log = logging.getLogger(__name__)


def curves_for_run(run_dir: Path, pcfg: DictConfig, dm) -> tuple:
    """(curves, the sha256 of the decoded sample they were measured on)."""
    _, decoded = read_file(run_dir / "model.mrc")
    post = np.load(run_dir / "posterior.npz")
    mu, sigma = torch.from_numpy(post["mu"]), torch.from_numpy(post["log_sigma"]).exp()
    decoded.to(dm.device)
    curves = accuracy_curves(decoded.network, decoded.weights, mu, sigma, dm.test_dataloader(), pcfg.strategies,
                             fractions(**pcfg.fractions), pcfg.repeats, pcfg.seed)
    return curves, decoded.weights_sha256


def run_dirs(path: Path) -> list:
    if (path / "model.mrc").exists():
        return [path]
    return sorted(p.parent for p in path.rglob("model.mrc"))


def prune_curve(cfg: DictConfig, run_dir: Path) -> dict:
    if not cfg.get("run"):
        raise UserError("task=prune_curve needs run=RUN_DIR (a run with model.mrc, or a sweep dir)")
    target = Path(cfg.run).expanduser()
    dirs = run_dirs(target)
    if not dirs:
        raise UserError(f"no model.mrc under {target}: prune curves need a coded run")
    done = {}
    for d in dirs:
        run_cfg = OmegaConf.load(d / ".hydra" / "config.yaml") if (d / ".hydra" / "config.yaml").exists() else cfg
        if "data_dir" in run_cfg.dataset:  # this machine's data folder (the synthetic set has none)
            run_cfg = OmegaConf.merge(run_cfg, {"dataset": {"data_dir": cfg.paths.data_dir}})
        dm = build_datamodule(run_cfg)
        curves, sha = curves_for_run(d, cfg.pruning, dm)
        update_curves_file(d, curves, sha)
        done[str(d)] = curves
        log.info("pruning curves written to %s", d / "pruning.json")
    print(f"wrote pruning.json for {len(done)} run(s)")
    return {"test_error": None, "runs": len(done)}
