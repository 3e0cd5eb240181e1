"""Sweep dir -> one DataFrame row per job: results.json, the job's config, and its status."""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

# DataFrame column -> where it lives in the composed config.
CONFIG_FIELDS = {"method": "method.name", "model": "model.name", "block": "block", "seed": "seed",
                 "scale": "scale.name"}
GRID_KEYS = ("method", "block", "seed")  # what identifies a job in Table-1 style sweeps
NEVER_STARTED = "job never started (no directory)"


def _scalar(text: str):
    """'30' -> 30, '1e-3' -> 0.001, 'meankl' -> 'meankl' (so grid values compare like config values)."""
    text = text.strip().strip("'\"")
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _expand(value) -> list:
    """One sweep value in Hydra's override syntax -> its list of values."""
    if isinstance(value, (list, tuple, ListConfig)):
        return [_scalar(str(v)) for v in value]
    text = str(value).strip()
    m = re.fullmatch(r"range\(\s*([^)]*)\)", text)
    if m:
        return list(range(*(int(float(a)) for a in m.group(1).split(","))))
    m = re.fullmatch(r"choice\(\s*([^)]*)\)", text)
    return [_scalar(v) for v in (m.group(1) if m else text).split(",")]


def _sweep_params(sweep_dir: Path):
    """{key: raw value} from multirun.yaml, command-line overrides winning; None if no multirun.yaml."""
    path = sweep_dir / "multirun.yaml"
    if not path.exists():
        return None
    cfg = OmegaConf.load(path)
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
    params = OmegaConf.to_container(params) if isinstance(params, DictConfig) else {}
    for override in OmegaConf.select(cfg, "hydra.overrides.task", default=None) or []:
        key, sep, value = str(override).partition("=")
        if sep and not key.startswith("~"):
            # Hydra lets `seed=0` on the command line replace a recipe's `seed: range(10)`.
            params[key.lstrip("+")] = value
    return params


def expected_jobs(sweep_dir) -> list:
    """The sweep's full method/block/seed grid from multirun.yaml, as dicts ([] if absent)."""
    params = _sweep_params(Path(sweep_dir)) or {}
    grid = {k: _expand(params[k]) for k in GRID_KEYS if k in params}
    if not grid:
        return []
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return exc


def _job_row(cfg_path: Path) -> dict:
    run_dir = cfg_path.parent.parent
    cfg = OmegaConf.load(cfg_path)
    fields = {k: OmegaConf.select(cfg, p, default=None) for k, p in CONFIG_FIELDS.items()}
    row = {"run_dir": str(run_dir), "status": "missing", "error": None}
    if (run_dir / "results.json").exists():
        res = _read_json(run_dir / "results.json")
        if isinstance(res, dict):
            row.update(res, status="ok", error=None)
        else:
            row.update(status="failed", error=f"unreadable results.json: {res}")
    elif (run_dir / "failed.json").exists():
        res = _read_json(run_dir / "failed.json")
        row.update(status="failed", error=res.get("error") if isinstance(res, dict) else f"unreadable failed.json: {res}")
    else:
        row["error"] = "no results.json (crashed, killed or still running)"
    # The config wins over results.json so failed and missing jobs carry the same fields.
    row.update({k: v for k, v in fields.items() if v is not None})
    return row


def _key(row: dict, keys) -> tuple:
    return tuple(str(_scalar(str(row.get(k)))) for k in keys)


def collect(sweep_dir) -> pd.DataFrame:
    """One row per job dir under sweep_dir (searched recursively), plus grid jobs with no dir."""
    sweep_dir = Path(sweep_dir)
    rows = [_job_row(p) for p in sorted(sweep_dir.rglob(".hydra/config.yaml"))]
    jobs = expected_jobs(sweep_dir)
    if jobs:
        keys = list(jobs[0])
        seen = {_key(r, keys) for r in rows}
        # Single-valued overrides (e.g. scale=quick) still describe the jobs that never started.
        params = _sweep_params(sweep_dir) or {}
        fixed = {k: _expand(params[k])[0] for k in CONFIG_FIELDS if k in params and len(_expand(params[k])) == 1}
        rows += [{"run_dir": None, "status": "missing", "error": NEVER_STARTED, **fixed, **job}
                 for job in jobs if _key(job, keys) not in seen]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for col in CONFIG_FIELDS:
        if col not in df:
            df[col] = None
    for col in ("block", "seed"):
        num = pd.to_numeric(df[col], errors="coerce")
        # Nullable ints print as 30, not 30.0, even when a grid job lacks the field.
        df[col] = num.astype("Int64") if (num.dropna() % 1 == 0).all() else num
    front = ["run_dir", "status", "error", *CONFIG_FIELDS]
    return df[front + [c for c in df.columns if c not in front]]
