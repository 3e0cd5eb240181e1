"""Offline W&B runs read back with wandb's own reader (`wandb leet inspect --json`, which parses the
run-*.wandb transaction log; wandb >= 0.30 writes no wandb-summary.json offline)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def read_run(run_dir) -> dict:
    """{group, job_type, tags, name, config, summary, files} of an offline run dir. The summary merges
    the run's summary updates in order (nested values come back flattened: 'tables/x.path')."""
    run_dir = Path(run_dir)
    proc = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    run = next(r["run"] for r in records if r["type"] == "run")
    summary = {}
    for r in records:
        if r["type"] == "summary":
            summary.update(r["summary"].get("update", {}))
    return {"group": run.get("run_group"), "job_type": run.get("job_type"), "tags": run.get("tags", []),
            "name": run.get("display_name"), "config": run.get("config", {}).get("update", {}),
            "summary": summary, "files": run_dir / "files"}


def logged_table(run: dict, key: str) -> dict:
    """{'columns': [...], 'data': [[...]]} of the W&B table logged under `key`."""
    return json.loads((run["files"] / run["summary"][f"{key}.path"]).read_text())


def offline_runs(wandb_dir) -> list:
    """Every offline run under a wandb/ folder, read back."""
    return [read_run(d) for d in sorted(Path(wandb_dir).glob("offline-run-*"))]
