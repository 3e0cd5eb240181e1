"""python -m nncompress.report SWEEP_DIR [--out DIR]: every table and figure the sweep supports."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, NamedTuple

from nncompress.report.collect import collect
from nncompress.report.figures import figure1, figure2, figure3, figure_table2, load_pruning
from nncompress.report.tables import TABLE2_METHODS, pruning_table, table1, table2


class Report(NamedTuple):
    """A table or figure: applies when any of `methods` has a row; write(df, out_dir) -> paths written."""
    methods: tuple
    write: Callable


def _write(out: Path, name: str, text: str) -> Path:
    path = out / name
    path.write_text(text)
    return path


def _table1(df, out):
    md, tex = table1(df)
    print(md)
    return [_write(out, "table1.md", md), _write(out, "table1.tex", tex)]


def _figure3(df, out):
    curves = load_pruning(df)
    if not curves:  # pruning curves are written by a separate task; nothing to draw without them
        return []
    md, tex = pruning_table(curves)
    print(md)
    return [*figure3(curves, out / "figure3"), _write(out, "figure3_table.md", md), _write(out, "figure3_table.tex", tex)]


def _table2(df, out):
    md, tex = table2(df)
    print(md)
    return [_write(out, "table2.md", md), _write(out, "table2.tex", tex)]


MKL = ("meanvar", "meankl")
# Register new tables and figures here.
REPORTS = {
    "table1": Report(MKL, _table1),
    "figure1": Report(MKL, lambda df, out: figure1(df, out / "figure1")),
    "figure2": Report(MKL, lambda df, out: figure2(df, out / "figure2")),
    "figure3": Report(MKL, _figure3),
    "table2": Report(TABLE2_METHODS, _table2),
    "figure_table2": Report(TABLE2_METHODS, lambda df, out: figure_table2(df, out / "table2_accuracy_vs_cr")),
}


def applicable(df) -> list:
    """Names of the registered reports whose methods appear in df."""
    present = set(df["method"].dropna()) if "method" in df else set()
    return [name for name, r in REPORTS.items() if present & set(r.methods)]


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
    written = [_write(out, "results.csv", df.to_csv(index=False))]
    for name in applicable(df):
        try:
            written += REPORTS[name].write(df, out)
        except Exception as exc:  # one broken figure must not cost the others
            print(f"warning: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    n_bad = int((df["status"] != "ok").sum())
    print(f"{len(df)} jobs ({n_bad} failed or missing); wrote:")
    for p in written:
        print(f"  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
