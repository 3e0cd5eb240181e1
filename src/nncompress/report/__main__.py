"""python -m nncompress.report SWEEP_DIR [--out DIR]: every table and figure the sweep supports."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nncompress.report.collect import collect
from nncompress.report.common import problems
from nncompress.report.papers import REPORTS, applicable


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nncompress.report", description=__doc__)
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="default: SWEEP_DIR/report")
    args = ap.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a directory", file=sys.stderr)
        return 2
    df = collect(args.sweep_dir)
    if df.empty or not df["run_dir"].notna().any():
        print(f"error: no job dirs (with .hydra/config.yaml) under {args.sweep_dir}", file=sys.stderr)
        return 2
    out = args.out or args.sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.csv").write_text(df.to_csv(index=False))
    written = [out / "results.csv"]
    for name in applicable(df):
        try:
            written += REPORTS[name].write(df, out)
        except Exception as exc:  # one broken figure must not cost the others
            print(f"warning: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    counts = df["status"].value_counts()
    print(f"{len(df)} jobs: {counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed, "
          f"{counts.get('missing', 0)} missing (no results.json: killed, crashed, still running or never started)")
    for line in problems(df):
        print(f"  {line}")
    print("wrote:")
    for p in written:
        print(f"  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
