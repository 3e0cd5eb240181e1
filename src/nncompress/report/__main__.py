"""python -m nncompress.report SWEEP_DIR [--out DIR] [--wandb]: every table and figure the sweep supports
(and, with --wandb, the same in one W&B run of the sweep's group: report/dashboard.py)."""
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
    ap.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=None,
                    help="log the tables and figures as one W&B run of the sweep's group (offline unless the "
                         "jobs ran online); default: on when the sweep's jobs ran with logger=wandb")
    ap.add_argument("--wandb-project", default=None, help="default: the jobs' project, else nncompress")
    ap.add_argument("--wandb-dir", type=Path, default=None,
                    help="the run goes to WANDB_DIR/wandb; default: SWEEP_DIR (beside the jobs' runs)")
    ap.add_argument("--wandb-online", action="store_true", default=None, help="log online (needs a W&B login)")
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
    names = applicable(df)
    for name in names:
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
    return _dashboard(args, df, {name: REPORTS[name].paper for name in names}, written)


def _dashboard(args, df, reports: dict, written: list) -> int:
    """The W&B report run when asked for (or when the jobs logged to W&B); 1 if --wandb could not be honoured."""
    from nncompress.report.dashboard import job_wandb, log_report

    if args.wandb is False or (args.wandb is None and job_wandb(df) is None):
        return 0
    folder = log_report(args.sweep_dir, df, reports, written, project=args.wandb_project,
                        online=args.wandb_online, wandb_dir=args.wandb_dir)
    if folder is None:
        return 1 if args.wandb else 0
    print(f"W&B report run: {folder}\nupload the sweep's dashboard with: wandb sync {folder.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
