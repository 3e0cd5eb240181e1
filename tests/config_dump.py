"""Resolved configs of every method x model x scale and of every job of every recipe, as JSON.

A tool for config refactors (issue 21 moved the scales into overlays): dump before, dump after,
compare with renames.

    python tests/config_dump.py dump BEFORE.json [--scales paper,quick]
    python tests/config_dump.py compare BEFORE.json AFTER.json [--renames tests/config_renames.json]

Each job is keyed by its command line; its value is the composed config without `hydra`, resolved
(`${hydra:runtime.cwd}` from the composing process), or the error it raised. A recipe's jobs are
its sweep's: `hydra.sweeper.params` crossed (Hydra's BasicSweeper), times its operating points
(the points sweeper, every point whatever `only` says).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import CONF, ROOT, compose_cfg  # noqa: E402

GROUPS_OF_A_JOB = ("method", "model")


def _options(group: str) -> list:
    folder = ROOT / "experiments" if group == "experiment" else CONF / group
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.endswith("_schema"))


def resolved(overrides: list):
    """The job's config (no hydra node) as a plain dict, or {'error': ...}."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    try:
        cfg = compose_cfg(overrides, hydra=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception as exc:  # noqa: BLE001 - the failure is the record
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}


def sweep_jobs(base: list) -> list:
    """The override lists of every job of the recipe composed by `base`."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    cfg = compose_cfg(base, hydra=True)
    sweeper = cfg.hydra.sweeper
    params = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    parsed = OverridesParser.create().parse_overrides(params)
    grid = BasicSweeper.split_arguments(parsed, None)[0] if parsed else [[]]
    points = sweeper.get("points") or {}
    if not points:
        return [[*base, *job] for job in grid]
    from hydra_plugins.nncompress_points.points_sweeper import expand
    return [[*base, *job] for job in expand([list(g) for g in grid], {k: list(v) for k, v in points.items()})]


def all_jobs(scales: list) -> list:
    jobs = []
    for scale in scales:
        for method in _options("method"):
            for model in _options("model"):
                jobs.append([f"method={method}", f"model={model}", f"scale={scale}"])
        for recipe in _options("experiment"):
            jobs += sweep_jobs([f"experiment={recipe}", f"scale={scale}"])
    return jobs


def dump(path: str, scales: list) -> None:
    out = {" ".join(job): resolved(job) for job in all_jobs(scales)}
    Path(path).write_text(json.dumps(out, indent=0, sort_keys=True, default=str))
    errors = sum("error" in v for v in out.values())
    print(f"{len(out)} configs, {errors} failing to compose, -> {path}")


def _flat(node, prefix="") -> dict:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: node}


def _rename(flat: dict, renames: dict, scale: str) -> dict:
    """`flat` (a config before) under the names after: renames = {"keys": {old: new}, "drop": [...],
    "values": {key: {old: new}}, "jobs": {old override: new}}.
    `{scale}` in an old name stands for the job's scale (a per-scale table that became one key);
    a dropped key (a per-scale table whose value a kept key already holds) and its subkeys go."""
    keys = {old.replace("{scale}", scale): new for old, new in renames.get("keys", {}).items()}
    out = {}
    for key, value in flat.items():
        for old, new in keys.items():
            if key == old or key.startswith(old + "."):
                key = new + key[len(old):]
                break
        else:
            if any(key == d or key.startswith(d + ".") for d in renames.get("drop", [])):
                continue
        out[key] = renames.get("values", {}).get(key, {}).get(value, value) if isinstance(value, str) else value
    return out


def _job_key(job: str) -> str:
    """A job's name for matching: a points-sweep job by its grid and point name (its point's
    method.* overrides may be spelt differently after a rename)."""
    tokens = job.split()
    if any(t.startswith("++point=") for t in tokens):
        tokens = [t for t in tokens if not t.startswith("method.")]
    return " ".join(sorted(tokens))


def compare(before_path: str, after_path: str, renames_path=None) -> int:
    before, after = json.loads(Path(before_path).read_text()), json.loads(Path(after_path).read_text())
    renames = json.loads(Path(renames_path).read_text()) if renames_path else {}
    after = {_job_key(k): v for k, v in after.items()}
    bad = 0
    for job, old in before.items():
        scale = next(t.split("=", 1)[1] for t in job.split() if t.startswith("scale="))
        tokens = [renames.get("jobs", {}).get(t, t) for t in job.split()]  # a renamed option
        new_job = _job_key(" ".join(tokens))
        if new_job not in after:
            print(f"MISSING {job}")
            bad += 1
            continue
        a, b = _rename(_flat(old), renames, scale), _flat(after[new_job])
        diff = {k: (a.get(k, "<absent>"), b.get(k, "<absent>")) for k in set(a) | set(b)
                if a.get(k, "<absent>") != b.get(k, "<absent>")}
        if diff:
            bad += 1
            print(f"DIFF {job}")
            for k in sorted(diff):
                print(f"    {k}: {diff[k][0]!r} -> {diff[k][1]!r}")
    print(f"{len(before)} configs compared, {bad} differ")
    return bad


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "dump":
        scales = args[3].split(",") if len(args) > 3 and args[2] == "--scales" else ["paper", "quick"]
        dump(args[1], scales)
    else:
        renames = args[4] if len(args) > 4 and args[3] == "--renames" else None
        sys.exit(1 if compare(args[1], args[2], renames) else 0)
