"""Sweep dir -> one DataFrame row per job: results.json, the job's config, and its status."""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

# DataFrame column -> where it lives in the composed config.
CONFIG_FIELDS = {"method": "method.name", "model": "model.name", "arch": "model.arch", "block": "block",
                 "seed": "seed", "scale": "scale.name", "point": "point"}
NEVER_STARTED = "job never started (no directory)"
POINT = "point"  # where a points sweep (hydra/sweeper=points) records each job's operating point


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
    points = OmegaConf.select(cfg, "hydra.sweeper.points", default=None)
    if isinstance(points, DictConfig) and len(points):  # hydra/sweeper=points: one job per named point
        try:
            only = OmegaConf.select(cfg, "hydra.sweeper.only", default=None)
        except Exception:  # an interpolation this file cannot resolve: every point
            only = None
        params[POINT] = list(only) if only is not None else list(points)
    for override in OmegaConf.select(cfg, "hydra.overrides.task", default=None) or []:
        key, sep, value = str(override).partition("=")
        if sep and not key.startswith("~"):
            # Hydra lets `seed=0` on the command line replace a recipe's `seed: range(10)`.
            params[key.lstrip("+")] = value
    return params


def sweep_points(sweep_dir) -> dict:
    """{point: [overrides]} of a points sweep (hydra/sweeper=points), from multirun.yaml ({} otherwise)."""
    path = Path(sweep_dir) / "multirun.yaml"
    points = OmegaConf.select(OmegaConf.load(path), "hydra.sweeper.points", default=None) if path.exists() else None
    return OmegaConf.to_container(points) if isinstance(points, DictConfig) else {}


def _point_fields(overrides) -> dict:
    """The CONFIG_FIELDS a point's overrides set (method=vd -> {"method": "vd"}), for jobs that never ran."""
    fields = {}
    for override in overrides or []:
        key, sep, value = str(override).partition("=")
        key = key.lstrip("+")
        if sep and key in ("method", "model", "block", "seed"):
            fields[key] = _scalar(value)
    return fields


def sweep_grid(sweep_dir) -> dict:
    """{key: [values]} of every key the sweep varies (two or more values), from multirun.yaml:
    the recipe's sweeper params and the command line alike ({} without multirun.yaml)."""
    params = _sweep_params(Path(sweep_dir)) or {}
    grid = {k: _expand(v) for k, v in params.items()}
    return {k: v for k, v in grid.items() if len(v) > 1}


def expected_jobs(sweep_dir) -> list:
    """The sweep's full grid over its swept keys, one dict per job ([] if nothing is swept)."""
    grid = sweep_grid(sweep_dir)
    if not grid:
        return []
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def _job_overrides(run_dir: Path) -> dict:
    """{key: value} of the overrides Hydra recorded for a job (.hydra/overrides.yaml)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    out = {}
    for override in OmegaConf.load(path) or []:
        key, sep, value = str(override).partition("=")
        if sep and not key.startswith("~"):
            out[key.lstrip("+")] = _scalar(value)
    return out


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return exc


def _job_row(cfg_path: Path) -> dict:
    run_dir = cfg_path.parent.parent
    cfg = OmegaConf.load(cfg_path)
    fields = {k: OmegaConf.select(cfg, p, default=None) for k, p in CONFIG_FIELDS.items()}
    row = {"run_dir": str(run_dir), "status": "missing", "error": None, "_overrides": _job_overrides(run_dir)}
    if (run_dir / "results.json").exists():
        res = _read_json(run_dir / "results.json")
        if isinstance(res, dict):
            row.update(res, status="ok", error=None)
        else:
            row.update(status="failed", error=f"unreadable results.json: {res}")
    elif (run_dir / "paused.json").exists():  # tasks/train.py: stopped on purpose (coding.stop_after), resumable
        res = _read_json(run_dir / "paused.json")
        if isinstance(res, dict):
            row.update(res)
        row.update(status="paused", error=res.get("paused") if isinstance(res, dict) else "paused")
    elif (run_dir / "failed.json").exists():
        res = _read_json(run_dir / "failed.json")
        error = res.get("error") if isinstance(res, dict) else f"unreadable failed.json: {res}"
        row.update(status="failed", error=error)
    else:
        row["error"] = "no results.json (crashed, killed or still running)"
    # The config wins over results.json so failed and missing jobs carry the same fields.
    row.update({k: v for k, v in fields.items() if v is not None})
    return row


def _key(values: dict, keys) -> tuple:
    return tuple(str(_scalar(str(values.get(k)))) for k in keys)


def collect(sweep_dir) -> pd.DataFrame:
    """One row per job dir under sweep_dir (searched recursively), plus grid jobs with no dir.

    A job is identified by its values of every swept key, as its own .hydra/overrides.yaml records
    them (model=lenet5_unhashed, method.module.tau2=0.1, …), so a missing job is found whichever keys
    the sweep varies. `df.attrs["sweep_keys"]` lists those keys."""
    sweep_dir = Path(sweep_dir)
    rows = [_job_row(p) for p in sorted(sweep_dir.rglob(".hydra/config.yaml"))]
    jobs = expected_jobs(sweep_dir)
    keys = list(jobs[0]) if jobs else []
    for r in rows:  # its values of the swept keys (a dir without overrides.yaml: from its config)
        r["_overrides"] = {**{k: r.get(k) for k in keys}, **r["_overrides"]}
        r.update({k: r["_overrides"].get(k) for k in keys if k not in CONFIG_FIELDS})
    if jobs:
        seen = {_key(r["_overrides"], keys) for r in rows}
        # Single-valued overrides (e.g. scale=quick) still describe the jobs that never started.
        params = _sweep_params(sweep_dir) or {}
        fixed = {k: _expand(params[k])[0] for k in CONFIG_FIELDS if k in params and len(_expand(params[k])) == 1}
        points = sweep_points(sweep_dir)
        rows += [{"run_dir": None, "status": "missing", "error": NEVER_STARTED, **fixed,
                  **_point_fields(points.get(str(job.get(POINT)))), **job}
                 for job in jobs if _key(job, keys) not in seen]
    for r in rows:
        r.pop("_overrides", None)
    df = pd.DataFrame(rows)
    df.attrs["sweep_keys"] = keys
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
