"""Report: collect a sweep dir laid out as Hydra writes it, then tables and figures."""
import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from nncompress.report.__main__ import main
from nncompress.report.collect import collect, expected_jobs
from nncompress.report.common import fmt, mean_se
from nncompress.report.papers.mkl import figure2, table1

RATIOS = {20: 555.3, 30: 833.0, 40: 1110.6}


def _job(root, method, block, seed, error=None, status="ok", steps=100):
    d = root / f"{method}_b{block}_s{seed}"
    (d / ".hydra").mkdir(parents=True)
    OmegaConf.save({"method": {"name": method}, "block": block, "seed": seed, "scale": {"name": "quick"}},
                   d / ".hydra" / "config.yaml")
    if status == "ok":
        (d / "results.json").write_text(json.dumps({
            "method": method, "seed": seed, "test_error": error, "ratio_paper": RATIOS[block],
            "ratio_file": RATIOS[block] * 0.976, "train_steps": steps, "bits_per_block": 20}))
        rows = ["step,train/ce,train/kl_bits_per_block_mean,val/error"]
        rows += [f"{s},{2.0 / (s + 1)},," for s in range(0, steps, 10)]
        rows += [f"{s},,{40.0 - s / 10}," for s in range(5, steps, 10)]
        (d / "metrics.csv").write_text("\n".join(rows) + "\n")
        layer = np.repeat(np.arange(4), 50)
        np.savez(d / "posterior.npz", mu=np.random.default_rng(seed).normal(size=200),
                 log_sigma=np.random.default_rng(seed + 1).normal(size=200) - 3, layer=layer,
                 sample=np.zeros(200), layer_names=np.array(["conv1", "conv2", "fc1", "fc2"]))
        fr = [0.0, 0.5, 1.0]
        (d / "pruning.json").write_text(json.dumps({"fractions": fr, **{
            s: {"accuracy": [99.0, 90.0 - seed, 9.8]} for s in ("random", "magnitude", "kl")}}))
    elif status == "failed":
        (d / "failed.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: boom\nmore"}))
    return d


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    for i, err in enumerate([0.8, 1.0, 1.2]):
        _job(root, "meankl", 30, i, err)
    _job(root, "meanvar", 30, 0, 0.9, steps=200)
    _job(root, "meanvar", 20, 0, 0.7, steps=200)
    _job(root, "meankl", 20, 0, 0.75)
    _job(root, "meankl", 40, 0, 1.1)
    _job(root, "meanvar", 40, 0, status="failed")
    _job(root, "meanvar", 30, 1, status="missing")
    OmegaConf.save({"hydra": {"sweeper": {"params": {"method": "meanvar,meankl", "block": "20,30,40",
                                                     "seed": "range(2)"}},
                              "overrides": {"task": ["scale=quick"]}}}, root / "multirun.yaml")
    return root


def test_mean_se_closed_form():
    mean, se = mean_se([0.8, 1.0, 1.2])
    assert mean == pytest.approx(1.0) and se == pytest.approx(0.2 / np.sqrt(3))
    assert fmt(*mean_se([0.8, 1.0, 1.2])) == "1.00 ± 0.12 %"
    mean, se = mean_se([0.9, None, float("nan")])  # unusable values are dropped
    assert mean == pytest.approx(0.9) and np.isnan(se) and fmt(mean, se) == "0.90 ± — %"


def test_collect_statuses_and_grid(sweep):
    df = collect(sweep)
    assert len(expected_jobs(sweep)) == 12
    assert (df["status"] == "ok").sum() == 7
    assert (df["status"] == "failed").sum() == 1
    # one dir without results + four grid points (b20 and b40 at seed 1) that never started
    assert (df["status"] == "missing").sum() == 5
    never = df[df["run_dir"].isna()]
    assert len(never) == 4 and set(never["scale"]) == {"quick"}  # scale=quick from the overrides
    failed = df[df["status"] == "failed"].iloc[0]
    assert (failed["method"], failed["block"], failed["seed"]) == ("meanvar", 40, 0)


def test_overrides_replace_params_and_nested_dirs(tmp_path):
    # As `run.py -m experiment=... seed=0 block=30` writes it: the command line narrows the recipe's grid.
    root = tmp_path / "sweep"
    _job(root / "deeper" / "still", "meankl", 30, 0, 0.9)
    OmegaConf.save({"hydra": {"sweeper": {"params": {"method": "meanvar,meankl", "block": "20,30,40",
                                                     "seed": "range(10)"}},
                              "overrides": {"task": ["experiment=x", "seed=0", "block=30"]}}},
                   root / "multirun.yaml")
    assert expected_jobs(root) == [{"method": "meanvar"}, {"method": "meankl"}]  # what still varies
    df = collect(root)
    assert list(df["status"]) == ["ok", "missing"] and "/deeper/still/" in df["run_dir"].iloc[0]
    (root / "multirun.yaml").unlink()
    assert expected_jobs(root) == [] and len(collect(root)) == 1


def test_table1_cells_ratios_and_problems(sweep):
    md, tex = table1(collect(sweep))
    assert "1.00 ± 0.12 %" in md  # Mean-KL block 30 over three seeds
    for r in ("555×", "833×", "1111×"):
        assert r in md
    assert "(file 813×)" in md
    assert "0.87 ± 0.08 %" in md  # the paper's Mean-KL at block 30, beside ours
    assert "failed: method=meanvar block=40 seed=0 — RuntimeError: boom" in md
    assert "missing: method=meanvar block=30 seed=1" in md
    assert "never started" in md
    assert "0.70 ± — % (n=1)" in md  # fewer seeds than the 3 of Mean-KL at block 30
    assert "| Optimizer iterations |  | 200 | 100 | 200,000 | 100,000 |" in md
    assert r"\toprule" in tex and r"$\pm$" in tex and r"555$\times$" in tex
    assert r"\bottomrule" in tex and "Failed or missing jobs" in tex and "RuntimeError: boom" in tex


def test_figure2_uneven_runs(sweep, tmp_path):
    df = collect(sweep)
    # A resumed run logs some steps twice and runs longer than the others.
    run = df[(df["method"] == "meankl") & (df["status"] == "ok")]["run_dir"].iloc[0]
    with open(f"{run}/metrics.csv", "a") as f:
        f.write("0,1.5,,\n500,0.1,,\n505,,21.0,\n")
    paths = figure2(df, tmp_path / "fig2")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)


def test_cli_writes_everything(sweep, capsys):
    assert main([str(sweep)]) == 0
    out = sweep / "report"
    for name in ("table1.md", "table1.tex", "results.csv", "figure1.png", "figure1.pdf", "figure2.png",
                 "figure2.pdf", "figure3.png", "figure3.pdf", "figure3_table.md"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "figure3_table.md").read_text()
    # Mean-KL at 50 % pruned: 90 - seed over seeds 0,1,2 (block 30), 0 (block 20), 0 (block 40).
    assert "| Mean-KL | kl | — | 89.40 ± 0.40 % | — | — |" in table  # 30/70/90 % are not on the grid


def test_cli_bad_dir(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") for line in err)
    assert "not a directory" in err[0] and "no job dirs" in err[1]
