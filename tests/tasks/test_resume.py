"""Nothing lost between tasks: a training run killed with SIGKILL and started again with the same run
dir resumes from its periodic last.ckpt, keeps the first part's metrics and writes results.json;
task=prune_curve with one strategy after another keeps both curves in pruning.json."""
import csv
import json
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch

from helpers import ROOT, SYNTHETIC, cli_command, run_cli, run_in_process
from nncompress.pruning.curves import merge_curves
from nncompress.report.papers.mkl import load_pruning
from nncompress.tasks.builders import keep_csv_rows

STEPS = 120
# The deterministic baseline on the synthetic set: a checkpoint every 10 steps, metrics every 5.
TRAIN = [*SYNTHETIC, "method=baseline", "model=lenet300_100", f"method.train_steps={STEPS}",
         "trainer.checkpoint_every_n_steps=10", "trainer.log_every_n_steps=5", "trainer.val_check_interval=20"]


def _rows(path) -> list:
    """metrics.csv as dicts of the cells that hold a value (the header grows as keys appear)."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(f)]


def _global_step(path) -> int:
    return torch.load(path, map_location="cpu", weights_only=False)["global_step"]


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
    cmd, env = cli_command([*TRAIN, f"hydra.run.dir={tmp_path}"])
    last = tmp_path / "checkpoints" / "last.ckpt"
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not last.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # no handler runs, nothing is flushed or cleaned up
    finally:
        first.kill()
        first.wait()
    assert first.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    step = _global_step(last)  # Lightning writes checkpoints atomically: a complete file or none
    assert 0 < step < STEPS
    assert not (tmp_path / "results.json").exists()
    before = [r for r in _rows(tmp_path / "metrics.csv") if int(r["step"]) < step]
    assert before, "the first part logged nothing before its checkpoint"

    second = run_cli([*TRAIN, f"hydra.run.dir={tmp_path}"], timeout=300)  # the same command, the same dir
    assert second.returncode == 0, second.stderr[-3000:]
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["resumed_from_step"] == step and r["train_steps"] == STEPS
    assert _global_step(last) == STEPS
    rows = _rows(tmp_path / "metrics.csv")
    # The first part's rows are kept as they were; the second part logged only from the checkpoint on.
    assert rows[:len(before)] == before
    train_steps = [int(x["step"]) for x in rows if "train/ce" in x]
    assert all(int(x["step"]) >= step for x in rows[len(before):] if "train/ce" in x)
    assert train_steps == sorted(set(train_steps)) and train_steps[-1] == STEPS - 1  # each step once, to the end
    assert [x["step"] for x in rows if "test/error" in x] == [str(STEPS + 1)]


@pytest.fixture(scope="module")
def coded_run(tmp_path_factory):
    """A real coded Mean-KL run (model.mrc, posterior.npz) on the synthetic set, in seconds."""
    out = tmp_path_factory.mktemp("coded")
    run_in_process([*SYNTHETIC, "method=meankl", "block=100", "method.train_steps=20", "coding.candidates_log2=4",
                    "coding.finetune_steps=0", "coding.progress=false"], out)
    assert not (out / "pruning.json").exists()  # pruning=none: no curves after training
    return out


@pytest.mark.slow
def test_prune_curve_strategies_add_up(coded_run):
    out = coded_run
    run_in_process([*SYNTHETIC, "task=prune_curve", f"run={out}", "pruning=kl", "pruning.fractions.step=0.5"],
                   out / "prune_kl")
    first = json.loads((out / "pruning.json").read_text())
    assert first["fractions"] == [0.0, 0.5, 1.0] and set(first) == {"fractions", "kl"}
    assert first["kl"]["repeats"] == 1 and first["kl"]["seed"] is None

    # Another strategy with other settings: a finer grid, two seeded orders from seed 3.
    run_in_process([*SYNTHETIC, "task=prune_curve", f"run={out}", "pruning=random", "pruning.fractions.step=0.25",
                    "pruning.repeats=2", "pruning.seed=3"], out / "prune_random")
    both = json.loads((out / "pruning.json").read_text())
    assert both["kl"] == first["kl"]  # the first curve, value for value, with its own settings
    random = both["random"]
    assert random["fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0] and len(random["accuracy"]) == 5
    assert random["repeats"] == 2 and len(random["accuracy_repeats"]) == 2 and random["seed"] == 3
    assert random["weights_sha256"] == first["kl"]["weights_sha256"]  # measured on the same decoded sample
    assert "fractions" not in both  # the grids differ: no shared grid to misread
    # Nothing pruned: both curves start at the coded sample's accuracy.
    r = json.loads((out / "results.json").read_text())
    assert random["accuracy"][0] == pytest.approx(100.0 - r["test_error_compressed"]) == first["kl"]["accuracy"][0]

    # The report reads each curve on its own grid.
    curves = load_pruning(pd.DataFrame([{"run_dir": str(out), "status": "ok", "method": "meankl"}]))
    assert curves == {("meankl", "kl"): ([0.0, 0.5, 1.0], [first["kl"]["accuracy"]]),
                      ("meankl", "random"): (random["fractions"], [random["accuracy"]])}


def test_keep_csv_rows_before_the_checkpoint(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    (tmp_path / "metrics.csv").write_text("epoch,step,train/ce\n0,4,2.5\n1,9,2.1\n1,14,1.9\n")
    logger = CSVLogger(save_dir=str(tmp_path), name="", version="")
    assert keep_csv_rows([logger], tmp_path, before=10) == 2  # step 14 is redone from the step-10 checkpoint
    assert _rows(tmp_path / "metrics.csv") == [{"epoch": "0", "step": "4", "train/ce": "2.5"},
                                                {"epoch": "1", "step": "9", "train/ce": "2.1"}]
    logger.log_metrics({"train/ce": 1.8, "val/error": 40.0}, step=14)
    logger.finalize("success")
    rows = _rows(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == ["4", "9", "14"] and rows[-1]["val/error"] == "40.0"
    assert not (tmp_path / "metrics.csv.resume").exists()
    # Killed again between moving the file aside and writing it back: the file aside is used.
    (tmp_path / "metrics.csv").rename(tmp_path / "metrics.csv.resume")
    again = CSVLogger(save_dir=str(tmp_path), name="", version="")
    assert keep_csv_rows([again], tmp_path, before=float("inf")) == 3
    assert [r["step"] for r in _rows(tmp_path / "metrics.csv")] == ["4", "9", "14"]
    # A run that starts from step 0 keeps nothing (Lightning's logger deletes the file when it writes).
    assert keep_csv_rows([CSVLogger(save_dir=str(tmp_path), name="", version="")], tmp_path, before=0) == 0


def _curve(acc, grid, repeats=1, seed=None):
    return {"accuracy": acc, "accuracy_repeats": [acc] * repeats, "fractions": grid, "repeats": repeats, "seed": seed}


def test_merge_curves_adds_replaces_and_keeps_settings():
    kl = _curve([99.0, 50.0, 10.0], [0.0, 0.5, 1.0])
    first = merge_curves(None, {"fractions": [0.0, 0.5, 1.0], "kl": kl}, "aa")
    assert first == {"fractions": [0.0, 0.5, 1.0], "kl": {**kl, "weights_sha256": "aa"}}
    # Another strategy on another grid: both kept, each with its settings, no shared grid.
    rnd = _curve([99.0, 70.0, 40.0, 20.0, 10.0], [0.0, 0.25, 0.5, 0.75, 1.0], repeats=3, seed=0)
    both = merge_curves(first, {"fractions": rnd["fractions"], "random": rnd}, "aa")
    assert both == {"kl": first["kl"], "random": {**rnd, "weights_sha256": "aa"}}
    # Computed again: replaces only its own curve; a shared grid again brings the top-level one back.
    rnd2 = _curve([99.0, 60.0, 10.0], [0.0, 0.5, 1.0], repeats=2, seed=5)
    again = merge_curves(both, {"fractions": [0.0, 0.5, 1.0], "random": rnd2}, "aa")
    assert again == {"fractions": [0.0, 0.5, 1.0], "kl": first["kl"], "random": {**rnd2, "weights_sha256": "aa"}}
    # An older file (one shared grid, no settings per curve): its curves keep that grid.
    old = {"fractions": [0.0, 1.0], "magnitude": {"accuracy": [99.0, 9.8], "accuracy_repeats": [[99.0, 9.8]]}}
    merged = merge_curves(old, {"fractions": [0.0, 0.5, 1.0], "kl": kl}, "aa")
    assert merged["magnitude"] == {**old["magnitude"], "fractions": [0.0, 1.0]} and "fractions" not in merged
    # A curve of another sample (the run's file was written again since) no longer describes the run.
    assert set(merge_curves(both, {"fractions": [0.0, 0.5, 1.0], "kl": kl}, "bb")) == {"fractions", "kl"}
