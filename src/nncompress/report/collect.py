"""Sweep dir -> one DataFrame row per job: results.json, the job's config, and its status."""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

CONFIG_FIELDS = {"method": "method.name", "block": "block", "seed": "seed", "scale": "scale.name"}


def _job_fields(cfg) -> dict:
    return {k: OmegaConf.select(cfg, path, default=None) for k, path in CONFIG_FIELDS.items()}


def _expand(value: str) -> list:
    value = str(value).strip()
    m = re.fullmatch(r"range\((\d+)(?:,\s*(\d+))?(?:,\s*(\d+))?\)", value)
    if m:
        a, b, c = m.groups()
        args = [int(a)] if b is None else [int(a), int(b)] + ([int(c)] if c else [])
        return list(range(*args))
    return [v.strip() for v in value.split(",")]


def expected_jobs(sweep_dir) -> list:
    """The full grid of the sweep's method/block/seed params from multirun.yaml (may be empty)."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.exists():
        return []
    cfg = OmegaConf.load(path)
    params = dict(OmegaConf.select(cfg, "hydra.sweeper.params", default={}) or {})
    for override in OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or []:
        key, _, value = str(override).partition("=")
        params[key.lstrip("+~")] = value  # the command line replaces the recipe's value
    grid = {k: _expand(params[k]) for k in ("method", "block", "seed") if k in params}
    if not grid:
        return []
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


def collect(sweep_dir) -> pd.DataFrame:
    sweep_dir = Path(sweep_dir)
    rows = []
    for cfg_path in sorted(sweep_dir.rglob(".hydra/config.yaml")):
        run_dir = cfg_path.parent.parent
        row = {"run_dir": str(run_dir), **_job_fields(OmegaConf.load(cfg_path))}
        if (run_dir / "results.json").exists():
            row.update(json.loads((run_dir / "results.json").read_text()), status="ok", error=None)
            row["method"] = row.get("method") or _job_fields(OmegaConf.load(cfg_path))["method"]
        elif (run_dir / "failed.json").exists():
            row.update(status="failed", error=json.loads((run_dir / "failed.json").read_text()).get("error"))
        else:
            row.update(status="missing", error="no results.json (crashed, killed or still running)")
        rows.append(row)
    df = pd.DataFrame(rows)
    seen = {(r["method"], str(r["block"]), str(r["seed"])) for r in rows}
    extra = [{"run_dir": None, **job, "status": "missing", "error": "job never started"}
             for job in expected_jobs(sweep_dir)
             if (str(job.get("method")), str(job.get("block")), str(job.get("seed"))) not in seen]
    if extra:
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    for col in ("block", "seed"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df
