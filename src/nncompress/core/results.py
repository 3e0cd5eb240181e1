"""results.json: one flat record per run (schema in DESIGN.md)."""
from __future__ import annotations

import json
import math
from pathlib import Path


def write_results(run_dir: Path, record: dict, name: str = "results.json") -> Path:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    path = Path(run_dir) / name
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path
