"""Dashboards (issue 13): a sweep run with logger=wandb, then its report, leave offline W&B runs that
wandb's own reader finds grouped by the sweep, with results.json as each job's summary and the
report's tables and figures in one report run."""
import json
import subprocess
import sys

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from helpers import SYNTHETIC, compose_cfg, run_cli
from nncompress.report.common import save_figure
from nncompress.report.dashboard import markdown_tables
from nncompress.report.papers import REPORTS, Report
from nncompress.tasks.dashboard import flat_config, sweep_dir_of, sweep_group


def test_sweep_dir_and_group(tmp_path):
    sweep = tmp_path / "ibc_table2" / "2026-01-31_12-00-00"
    (sweep / "l2_s0").mkdir(parents=True)
    assert sweep_dir_of(sweep / "l2_s0") is None  # no multirun.yaml: a single run
    (sweep / "multirun.yaml").write_text("{}\n")
    assert sweep_dir_of(sweep / "l2_s0") == sweep.resolve()
    assert sweep_group(sweep) == "ibc_table2_2026-01-31_12-00-00"


def test_flat_config_outside_a_hydra_run():
    flat = flat_config(compose_cfg(["logger=wandb", "method=l2", "scale=quick"], hydra=False))
    assert flat["method.name"] == "l2" and flat["method.family"] == "baseline" and flat["scale.name"] == "quick"
    assert flat["logger.wandb.offline"] is True and flat["method.train_steps"] == 1500
    assert flat["paths.output_dir"] == "${hydra:runtime.output_dir}"  # needs a Hydra run: kept as written
    assert not any(isinstance(v, dict) for v in flat.values())


DEMO_MD = "| Method | |W≠0|/|W| % | Acc % |\n|---|---|---|\n"


def _write_demo(df, out):
    """A report as any paper writes one: a markdown table (a bare '|' in a header) and a figure."""
    ok = df[df["status"] == "ok"].sort_values("seed")
    rows = [f"| {r.method} s{r.seed} | 100 | {100 - r.test_error:.2f} |" for r in ok.itertuples()]
    (out / "demo_table.md").write_text(DEMO_MD + "\n".join(rows) + "\n\nFailed or missing jobs: none\n")
    fig, ax = plt.subplots()
    ax.plot(ok["seed"], ok["test_error"])
    return [out / "demo_table.md", *save_figure(fig, out / "demo_figure")]


@pytest.mark.slow  # two tiny jobs, the report, three reads and a dry-run sync: ~50 s on 2 shared CPU cores
def test_offline_sweep_dashboard(tmp_path, monkeypatch, capsys):
    from nncompress.report.__main__ import main
    from wandb_runs import logged_table, offline_runs

    sweep = tmp_path / "dash" / "sweep"
    proc = run_cli(["-m", *SYNTHETIC, "method=l2", "model=lenet300_100", "method.train_steps=5", "seed=0,1",
                    "logger=wandb", f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=s${seed}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["seed"]: r for r in (json.loads((sweep / f"s{s}" / "results.json").read_text()) for s in (0, 1))}

    # The report, in this process so a demo report can stand beside the registered ones; no --wandb:
    # on by itself, as the jobs logged to W&B.
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setitem(REPORTS, "demo", Report("demo", ("l2",), _write_demo))
    assert main([str(sweep)]) == 0
    assert f"wandb sync {sweep / 'wandb'}" in capsys.readouterr().out

    runs = offline_runs(sweep / "wandb")  # the jobs' runs and the report's, in the sweep's one folder
    assert sorted(r["job_type"] for r in runs) == ["l2", "l2", "report"]
    group = sweep_group(sweep)
    assert group == "dash_sweep" and {r["group"] for r in runs} == {group}
    for run in (r for r in runs if r["job_type"] == "l2"):
        seed = run["config"]["seed"]
        assert run["name"] == f"s{seed}" and run["tags"] == ["baseline", "quick"]
        assert run["config"]["method.name"] == "l2" and run["config"]["method.train_steps"] == 5
        record = results[seed]
        assert record["wandb_group"] == group and record["wandb_run_id"] in str(run["files"])
        assert {k: run["summary"].get(k) for k in record} == pytest.approx(record)

    report = next(r for r in runs if r["job_type"] == "report")
    assert set(report["tags"]) >= {"demo", "ibc", "quick"}
    assert report["summary"]["jobs_ok"] == 2 and report["summary"]["jobs_missing"] == 0
    demo = logged_table(report, "tables/demo_table")
    assert demo["columns"] == ["Method", "|W≠0|/|W| %", "Acc %"]
    assert demo["data"] == [["l2 s0", "100", f"{100 - results[0]['test_error']:.2f}"],
                            ["l2 s1", "100", f"{100 - results[1]['test_error']:.2f}"]]
    csv = pd.read_csv(sweep / "report" / "results.csv")
    table = logged_table(report, "tables/results")
    assert table["columns"] == list(csv.columns) and len(table["data"]) == len(csv) == 2
    assert sorted(row[table["columns"].index("test_error")] for row in table["data"]) == sorted(csv["test_error"])
    for md in (sweep / "report").glob("*.md"):  # every table any applicable report wrote
        for k, (columns, rows) in enumerate(markdown_tables(md.read_text())):
            logged = logged_table(report, f"tables/{md.stem}" + (f"_{k + 1}" if k else ""))
            assert (logged["columns"], logged["data"]) == (columns, rows)
    for png in (sweep / "report").glob("*.png"):
        assert report["summary"][f"figures/{png.stem}._type"] == "image-file"
        assert (report["files"] / report["summary"][f"figures/{png.stem}.path"]).exists()
    # One `wandb sync` of the folder would upload all three runs.
    dry = subprocess.run([sys.executable, "-m", "wandb", "sync", "--dry-run", str(sweep / "wandb")],
                         capture_output=True, text=True, timeout=120)
    assert "Would sync 3 run(s)" in dry.stdout + dry.stderr, dry.stdout + dry.stderr
