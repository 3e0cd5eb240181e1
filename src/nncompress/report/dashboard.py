"""The report run: every table (as a W&B table) and figure (as an image) a report wrote, in one W&B
run of the sweep's group and project, so that `wandb sync SWEEP_DIR/wandb` uploads one dashboard:
the jobs (one run each, grouped by the sweep, results.json as summary; see tasks/dashboard.py),
the paper's tables and its figures.

Generic over the registered reports: it reads back the files they wrote (markdown pipe tables and
CSV files become tables, PNG files images), so a new report needs nothing here. Offline by default,
like the jobs' runs; opt in with `--wandb` (on by itself when the sweep's jobs ran with logger=wandb).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def _cells(line: str, n: int) -> list:
    """The n cells of a markdown table row. Cells are split at ' | ', so a cell may hold a bare '|'
    (e.g. the header '|W≠0|/|W| %'); a row that still does not give n cells is padded or merged."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") else body
    cells = [c.strip() for c in body.split(" | ")]
    if len(cells) != n:
        plain = [c.strip() for c in body.split("|")]
        cells = plain if len(plain) == n else cells
    if len(cells) > n:
        cells = cells[: n - 1] + [" | ".join(cells[n - 1:])]
    return cells + [""] * (n - len(cells))


def markdown_tables(text: str) -> list:
    """[(columns, rows)] of every pipe table in a markdown text (a header line, a |---| line, rows)."""
    lines = text.splitlines()
    tables, i = [], 0
    while i + 1 < len(lines):
        if lines[i].lstrip().startswith("|") and SEPARATOR.match(lines[i + 1].strip()):
            n = lines[i + 1].strip().count("|") - 1
            columns = _cells(lines[i], n)
            rows, i = [], i + 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_cells(lines[i], n))
                i += 1
            tables.append((columns, rows))
        else:
            i += 1
    return tables


def _unique(columns) -> list:
    """Column names made unique (W&B refuses repeats): a second 'CR' becomes 'CR (2)'."""
    seen, out = {}, []
    for c in columns:
        c = c or "column"
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c} ({seen[c]})")
    return out


def job_wandb(df: pd.DataFrame):
    """The logger.wandb node of the first job config that has one (None: no job logged to W&B)."""
    for run_dir in df["run_dir"].dropna():
        path = Path(run_dir) / ".hydra" / "config.yaml"
        node = OmegaConf.select(OmegaConf.load(path), "logger.wandb", default=None) if path.exists() else None
        if node is not None:
            return node
    return None


def report_group(sweep_dir: Path, df: pd.DataFrame) -> str:
    """The group the sweep's jobs recorded (results.json `wandb_group`) when they agree on one, else
    the sweep dir's name by the jobs' rule (tasks/dashboard.sweep_group: '<parent name>_<own name>')."""
    recorded = set(df["wandb_group"].dropna()) if "wandb_group" in df else set()
    if len(recorded) == 1:
        return str(recorded.pop())
    d = Path(sweep_dir).resolve()
    return (f"{d.parent.name}_{d.name}" if d.parent.name else d.name)[-128:]


def _payload(wandb, written) -> dict:
    """{key: wandb.Table | wandb.Image} of the written files: tables/<stem>[_k], figures/<stem>."""
    data = {}
    for path in map(Path, written):
        if path.suffix == ".md":
            for k, (columns, rows) in enumerate(markdown_tables(path.read_text())):
                key = f"tables/{path.stem}" + (f"_{k + 1}" if k else "")
                data[key] = wandb.Table(columns=_unique(columns), data=rows)
        elif path.suffix == ".csv":
            frame = pd.read_csv(path)
            rows = frame.astype(object).where(frame.notna(), None).values.tolist()
            data[f"tables/{path.stem}"] = wandb.Table(columns=_unique(map(str, frame.columns)), data=rows,
                                                      allow_mixed_types=True)
        elif path.suffix == ".png":
            data[f"figures/{path.stem}"] = wandb.Image(str(path))
    return data


def log_report(sweep_dir: Path, df: pd.DataFrame, reports: dict, written: list, *, project=None,
               online=None, wandb_dir=None):
    """Log the written tables and figures as one W&B run (job type 'report') of the sweep's group,
    tagged with the papers of `reports` ({report name: paper key}) and the sweep's scales.
    Project and mode default to the jobs' (else 'nncompress', offline); the run is written under
    WANDB_DIR/wandb (default: the sweep dir). Returns the run's folder, or None (with a message on
    stderr) when wandb is not installed."""
    try:
        import wandb
    except ImportError:
        print("warning: W&B logging skipped: wandb is not installed (pip install wandb); the tables and "
              "figures are written all the same", file=sys.stderr)
        return None
    jobs = job_wandb(df)
    project = project or (jobs.get("project") if jobs is not None else None) or "nncompress"
    if online is None:
        online = jobs is not None and jobs.get("offline") is False
    home = Path(wandb_dir or sweep_dir)
    home.mkdir(parents=True, exist_ok=True)
    counts = df["status"].value_counts()
    scales = df["scale"].dropna().unique() if "scale" in df else []
    tags = sorted({*map(str, reports.values()), *map(str, scales)})
    run = wandb.init(project=project, group=report_group(sweep_dir, df), job_type="report", name="report",
                     tags=tags, dir=str(home), mode="online" if online else "offline", reinit="finish_previous",
                     config={"sweep_dir": str(Path(sweep_dir).resolve()), "reports": list(reports)})
    run.log(_payload(wandb, written))
    run.summary.update({f"jobs_{s}": int(counts.get(s, 0)) for s in ("ok", "failed", "missing")})
    folder = Path(run.dir).parent
    run.finish()
    return folder
