"""Paper 001 methods through run.py: baseline pretraining, then VD / SWS / VD+SWS from it."""
import json
from pathlib import Path

import pytest

from helpers import SYNTHETIC, run_in_process, run_main
from helpers import run_cli as _run

pytestmark = pytest.mark.slow
COMMON = [*SYNTHETIC, "model=lenet300_100"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    run_in_process([*COMMON, "method=baseline", "coding=none", "method.train_steps=60"], out)
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("method", ["vd", "sws", "vd_sws"])
def test_method_from_baseline(baseline, method, tmp_path):
    base_dir, base = baseline
    phases = ["method.phase1_steps=10"] if method == "vd_sws" else []
    run_in_process([*COMMON, f"method={method}", "method.train_steps=20", *phases, "coding=csr_huffman",
                    f"init_from={base_dir}"], tmp_path)
    r = json.loads((tmp_path / "results.json").read_text())
    assert 0.0 <= r["nonzero_fraction"] <= 1.0
    # Started from the baseline: 20 steps at the paper's small learning rates keep its accuracy.
    assert r["test_error_uncompressed"] <= base["test_error"] + 10.0
    assert r["compressed_bytes"] == (tmp_path / "model.nnc").stat().st_size
    assert r["ratio_file"] == pytest.approx(32 * 266610 / (8 * r["compressed_bytes"]))
    # decoded from the file alone (in a fresh process: tests/tasks/test_same_bytes.py)
    dec = run_in_process(["dataset=synthetic", "dataset.device=cpu", "task=decode", f"file={tmp_path / 'model.nnc'}"],
                         tmp_path / "decode")
    assert dec["test_error"] == r["test_error_compressed"] and dec["weights_sha256"] == r["weights_sha256"]


def test_mrc_on_a_non_miracle_method_fails_before_training(tmp_path):
    proc = _run(["dataset=synthetic", "method=vd", "coding=mrc", f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: coding=mrc does not code method=vd") and "coding=csr_huffman" in proc.stderr
    assert not (tmp_path / "checkpoints").exists()  # refused before any training


def test_init_from_missing_checkpoint(tmp_path):
    proc = run_main([*COMMON, "method=vd", "coding=none", f"init_from={tmp_path / 'nope'}",
                     f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: init_from: no checkpoint")


def test_auto_chain_pretrains_once_and_picks_the_coder(tmp_path):
    """init_from=auto trains the baseline into paths.pretrained_dir once; coding=auto writes model.nnc."""
    pre = tmp_path / "pretrained"
    stamps = []
    for i in range(2):
        run_in_process([*COMMON, "method=vd", "coding=auto", "init_from=auto", "method.train_steps=10",
                        f"paths.pretrained_dir={pre}"], tmp_path / f"run{i}")
        assert (tmp_path / f"run{i}" / "model.nnc").exists()
        stamps.append([p.stat().st_mtime_ns for p in pre.rglob("results.json")])
    assert stamps[0] == stamps[1]  # the second job reused the baseline instead of training it again
    (base,) = list(pre.iterdir())
    assert base.name == "synthetic_lenet300_100_quick_s0" and (base / "results.json").exists()
    assert json.loads((base / "results.json").read_text())["method"] == "baseline"


def test_decode_a_whole_run_dir_checks_it_against_its_encoder(baseline, tmp_path):
    base_dir, _ = baseline
    job = tmp_path / "sweep" / "vd_job"
    run_in_process([*COMMON, "method=vd", "method.train_steps=20", "coding=csr_huffman", f"init_from={base_dir}"],
                   job)
    decode = ["dataset=synthetic", "dataset.device=cpu", "task=decode", f"run={tmp_path / 'sweep'}"]
    ok = run_main([*decode, f"hydra.run.dir={tmp_path / 'dec_ok'}"])
    assert ok.returncode == 0, ok.stderr[-3000:]
    record = json.loads((tmp_path / "dec_ok" / "decode.json").read_text())
    assert record["n_files"] == 1 and record["n_differ"] == 0
    assert record["files"][0]["test_error"] == json.loads((job / "results.json").read_text())["test_error_compressed"]
    # A corrupt file in the sweep is reported and the others are still checked; the task fails.
    broken = tmp_path / "sweep" / "broken_job"
    broken.mkdir()
    data = bytearray((job / "model.nnc").read_bytes())
    data[40] ^= 0xFF
    (broken / "model.nnc").write_bytes(bytes(data))
    bad = run_main([*decode, f"hydra.run.dir={tmp_path / 'dec_bad'}"])
    assert bad.returncode == 1 and bad.stderr.startswith("error: 1 of 2 decoded files")
    decoded = json.loads((tmp_path / "dec_bad" / "decode.json").read_text())["files"]
    files = {Path(f["file"]).parent.name: f for f in decoded}
    assert files["vd_job"]["differences"] == [] and "CRC-32 mismatch" in files["broken_job"]["differences"][0]
    # An encoder record that the file does not reproduce is reported too.
    (broken / "model.nnc").unlink()
    results = json.loads((job / "results.json").read_text())
    results["test_error_compressed"] += 1.0
    (job / "results.json").write_text(json.dumps(results))
    bad = run_main([*decode, f"hydra.run.dir={tmp_path / 'dec_bad2'}"])
    assert bad.returncode == 1 and "DIFFERS" in bad.stdout and bad.stderr.startswith("error: 1 of 1 decoded files")
    assert run_main([*decode[:-1], f"run={tmp_path / 'nothing'}"]).stderr.startswith("error: run=")


def test_pretrain_task_trains_the_auto_baselines_in_parallel(tmp_path):
    """task=pretrain over two models with the joblib launcher (as `make paper-suite` runs it) writes
    each baseline once; a later init_from=auto job finds its model's and does not train another."""
    pre = tmp_path / "pretrained"
    proc = _run(["-m", *SYNTHETIC, "task=pretrain", "model=lenet300_100,lenet5_unhashed", "method.train_steps=10",
                 "model.train.steps=20", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 f"paths.pretrained_dir={pre}", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    dirs = sorted(p.name for p in pre.iterdir())
    assert dirs == ["synthetic_lenet300_100_quick_s0", "synthetic_lenet5_unhashed_quick_s0"]
    for d in dirs:
        assert json.loads((pre / d / "metrics.csv").with_name("results.json").read_text())["train_steps"] == 20
    before = (pre / dirs[0] / "results.json").stat().st_mtime_ns
    run_in_process([*COMMON, "method=vd", "coding=none", "init_from=auto", "method.train_steps=5",
                    f"paths.pretrained_dir={pre}"], tmp_path / "vd")
    assert (pre / dirs[0] / "results.json").stat().st_mtime_ns == before
