"""A run's W&B record (logger=wandb), laid out so that a W&B table view of one sweep is the paper's table.

Every job of a sweep joins one group, the sweep (`sweep_group`), with its method as job type and
its paper key and scale as tags; it carries the flattened config and, at the end, its results.json
as the run summary. The runs of a sweep are written into one folder, SWEEP_DIR/wandb, beside the
report run of `python -m nncompress.report SWEEP_DIR --wandb`, so one `wandb sync SWEEP_DIR/wandb`
uploads the whole dashboard. A single run (no sweep) is its own group, in RUN_DIR/wandb.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf


def sweep_dir_of(run_dir: Path):
    """The sweep dir a run dir lies in (the nearest parent holding Hydra's multirun.yaml), or None."""
    run_dir = Path(run_dir).resolve()
    return next((p for p in run_dir.parents if (p / "multirun.yaml").exists()), None)


def sweep_group(directory: Path) -> str:
    """The W&B group of a sweep (or single run) dir: its parent's name and its own joined by '_',
    'ibc_table2_2026-01-31_12-00-00' for multirun/ibc_table2/<time> (no '/': W&B puts the group in
    URLs; at most 128 characters, W&B's limit). `report/dashboard.py` names a sweep dir by the same
    rule when no job recorded its group."""
    d = Path(directory).resolve()
    return (f"{d.parent.name}_{d.name}" if d.parent.name else d.name)[-128:]


def flat_config(cfg: DictConfig) -> dict:
    """{'method.name': 'vd', 'scale.mrc.finetune_steps': 1, …}: every leaf of the config, resolved
    where it can be (an interpolation that needs a Hydra runtime outside one stays as written)."""
    out = {}

    def walk(node, prefix):
        raw = OmegaConf.to_container(node, resolve=False)
        for key in raw:
            name = f"{prefix}{key}"
            try:
                value = node[key]
            except Exception:  # e.g. ${hydra:runtime.output_dir} outside a Hydra job
                out[name] = raw[key]
                continue
            if isinstance(value, DictConfig):
                walk(value, name + ".")
            elif isinstance(value, ListConfig):
                try:
                    out[name] = OmegaConf.to_container(value, resolve=True)
                except Exception:
                    out[name] = OmegaConf.to_container(value, resolve=False)
            else:
                out[name] = value

    walk(cfg, "")
    return out


def close_open_run():
    """Finish a W&B run an earlier job of this process left open (it failed or paused): Lightning's
    WandbLogger would otherwise log this job into it."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.run.finish(exit_code=1)


def build_wandb_logger(cfg: DictConfig, run_dir: Path):
    """The WandbLogger of cfg.logger.wandb; group, name and the W&B folder default to the sweep's."""
    run_dir = Path(run_dir)
    sweep = sweep_dir_of(run_dir)
    home = sweep or run_dir
    wb = cfg.logger.wandb
    name = wb.get("name") or (str(run_dir.resolve().relative_to(sweep)) if sweep
                              else f"{cfg.method.name}_b{cfg.block}_s{cfg.seed}")
    tags = [str(cfg.method.family), str(cfg.scale.name)]
    close_open_run()
    # Offline as wandb.init's own `mode` too: Lightning's offline=True only sets WANDB_MODE, which a
    # process that has already started W&B (an earlier job, the report) no longer reads.
    mode = {"mode": "offline"} if wb.get("offline") else {}
    make = instantiate(wb, _partial_=True)  # then `config=`, which instantiate() itself would take
    return make(save_dir=str(home), name=name, group=wb.get("group") or sweep_group(home),
                job_type=wb.get("job_type") or str(cfg.method.name), tags=list(wb.get("tags") or tags),
                config=flat_config(cfg), **mode)


def _wandb_loggers(loggers) -> list:
    return [lg for lg in loggers if type(lg).__name__ == "WandbLogger"]


def wandb_keys(loggers) -> dict:
    """results.json keys naming where the run's dashboard lives: its W&B group, project and run id."""
    for lg in _wandb_loggers(loggers):
        run = lg.experiment
        return {"wandb_group": run.group, "wandb_project": run.project, "wandb_run_id": run.id}
    return {}


def finish_wandb(loggers, results_path: Path):
    """Set each W&B run's summary to results.json as written (non-finite numbers as null) and finish it."""
    record = json.loads(Path(results_path).read_text())
    for lg in _wandb_loggers(loggers):
        lg.experiment.summary.update(record)
        lg.experiment.finish()
