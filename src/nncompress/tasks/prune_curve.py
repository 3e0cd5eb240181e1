"""task=prune_curve: test accuracy of a compressed sample as more of its weights are zeroed.

Each run's family computes its curves (`Family.prune_curves`; MIRACLE: on what the decoder rebuilds
from the run's file, pruned by the posterior each variable was coded from, posterior.npz); a
family without them refuses in one line. The strategies' curves are added to pruning.json in the
run dir, replacing only those strategies' earlier curves (`pruning=kl` then `pruning=random` keeps
both, each with its own settings). `run=` may be one run dir or a sweep dir: every finished run
beneath it that wrote a file and whose family has prune curves.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nncompress.core.errors import UserError
from nncompress.methods.base import get_family
from nncompress.pruning.curves import update_curves_file
from nncompress.tasks.builders import build_datamodule

log = logging.getLogger(__name__)
CONFIG = Path(".hydra") / "config.yaml"


def _finished(d: Path) -> bool:
    """A train run that wrote its results (not a decode or prune_curve task's dir)."""
    return (d / CONFIG).exists() and (d / "results.json").exists() and \
        OmegaConf.load(d / CONFIG).get("task", "train") == "train"


def run_dirs(path: Path) -> list:
    """(run dir, its composed config) of `path` itself if it is a finished run, else of every finished
    run beneath it that wrote a file and whose family has prune curves."""
    if _finished(path):
        return [(path, OmegaConf.load(path / CONFIG))]
    runs = [(d, OmegaConf.load(d / CONFIG)) for d in sorted(p.parent.parent for p in path.rglob(str(CONFIG)))
            if _finished(d)]
    return [(d, c) for d, c in runs if c.coding.name != "none" and get_family(c.method.family).has_prune_curves()]


def prune_curve(cfg: DictConfig, run_dir: Path) -> dict:
    if not cfg.get("run"):
        raise UserError("task=prune_curve needs run=RUN_DIR (a finished run, or a sweep dir)")
    target = Path(cfg.run).expanduser()
    runs = run_dirs(target)
    if not runs:
        raise UserError(f"no finished run with prune curves under {target} (a run dir holds .hydra/config.yaml "
                        f"and results.json)")
    done = {}
    for d, run_cfg in runs:
        family = get_family(run_cfg.method.family)  # refuses here when the family has none
        if "data_dir" in run_cfg.dataset:  # this machine's data folder (the synthetic set has none)
            run_cfg = OmegaConf.merge(run_cfg, {"dataset": {"data_dir": cfg.paths.data_dir}})
        dm = build_datamodule(run_cfg)
        curves, sha = family.prune_curves(d, run_cfg, cfg.pruning, dm)
        update_curves_file(d, curves, sha)
        done[str(d)] = curves
        log.info("pruning curves written to %s", d / "pruning.json")
    print(f"wrote pruning.json for {len(done)} run(s)")
    return {"test_error": None, "runs": len(done)}
