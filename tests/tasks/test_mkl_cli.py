"""End to end on the real MNIST: run.py trains, codes into model.mrc, and a fresh process decodes it."""
import json

import pytest

from helpers import run_cli as _run
from helpers import run_in_process, run_main

pytestmark = pytest.mark.slow
# Paper architecture and block layout; few steps and a truncated search keep it to ~1 minute.
# The warm-up off and one rate, as at paper scale.
ARGS = ["method=meankl", "block=30", "scale=quick", "method.train_steps=60",
        "method.budget_warmup.factor=1.0", "method.budget_warmup.steps=0",
        "method.lr_gamma_factor=1.0",
        "coding.candidates_log2=8", "coding.finetune_steps=0", "coding.progress=false", "trainer.progress_bar=false"]


@pytest.fixture(scope="module")
def coded_run(real_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run_in_process(ARGS, out, real_data_dir)  # decoded in a fresh process below
    return out, json.loads((out / "results.json").read_text())


def test_paper_accounting_and_file_size(coded_run):
    """The paper's ratio counts the block indices, 32 |W| / (n_blocks * bits); the file's ratio its
    own bytes, which hold those indices plus a header of a few dozen bytes. (Which bytes training
    writes depends on the CPU's float kernels: tests/tasks/test_same_bytes.py checks that the same
    command writes the same bytes here; tests/coding/test_golden_codecs.py pins portable files.)"""
    from nncompress.coding.container import read_container
    from nncompress.coding.mrc import MRCPayload

    out, r = coded_run
    assert r["n_coded_params"] == 24830 and r["n_params"] == 431080
    assert r["n_blocks"] == 828 == -(-24830 // 30) and r["bits_per_block"] == 20
    assert r["ratio_paper"] == 32 * 431080 / (828 * 20)  # 833.0
    size = (out / "model.mrc").stat().st_size
    assert r["compressed_bytes"] == size and r["ratio_file"] == 32 * 431080 / (8 * size)
    kind, payload = read_container(out / "model.mrc")
    parsed = MRCPayload.from_bytes(payload)
    assert kind == "mrc" and len(parsed.indices) == 828 and parsed.block_size == 30
    index_bytes = (828 * 20 + 7) // 8  # 2,070
    assert index_bytes < size < index_bytes + 64  # container (10 bytes), architecture, seed, scales
    assert abs(r["ratio_file"] / r["ratio_paper"] - 1) < 0.03
    assert r["kl_bits_per_block_mean"] == pytest.approx(20.0, abs=0.05)  # Mean-KL: by construction
    for key in ("method", "model", "dataset", "seed", "task", "train_steps", "wall_seconds", "test_error"):
        assert key in r


def test_decode_in_a_fresh_process(coded_run, real_data_dir, tmp_path):
    out, r = coded_run
    proc = _run(["task=decode", f"file={out / 'model.mrc'}", f"hydra.run.dir={tmp_path}"], real_data_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    d = json.loads((tmp_path / "decode.json").read_text())
    assert d["weights_sha256"] == r["weights_sha256"]
    assert d["test_error"] == r["test_error_compressed"]


def test_corrupt_file_one_line_error(coded_run, real_data_dir, tmp_path):
    out, _ = coded_run
    bad = tmp_path / "bad.mrc"
    data = bytearray((out / "model.mrc").read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))
    for target in (bad, tmp_path / "missing.mrc"):
        proc = run_main(["task=decode", f"file={target}", f"hydra.run.dir={tmp_path / 'dec'}"], real_data_dir)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error:")


def test_posterior_and_metrics_written(coded_run):
    out, _ = coded_run
    import numpy as np

    post = np.load(out / "posterior.npz")
    assert post["mu"].shape == (24830,) and set(np.unique(post["layer"])) == {0, 1, 2, 3}
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "train/ce" in header and "train/kl_bits_per_block_mean" in header


def test_prune_curve_task(coded_run, real_data_dir):
    out, r = coded_run
    run_in_process(["task=prune_curve", f"run={out}", "pruning=all", "pruning.repeats=2",
                    "pruning.fractions.step=0.5"], out / "prune", real_data_dir)
    curves = json.loads((out / "pruning.json").read_text())
    assert curves["fractions"] == [0.0, 0.5, 1.0]  # each point evaluates 10,000 test images per strategy
    for strategy in ("random", "magnitude", "kl"):
        acc = curves[strategy]["accuracy"]
        assert acc[0] == pytest.approx(100.0 - r["test_error_compressed"])  # nothing pruned
        assert acc[-1] == pytest.approx(9.8)  # all zero: constant logits pick class 0 (980 of 10,000)
    assert len(curves["random"]["accuracy_repeats"]) == 2


def test_paused_coding_resumes_to_the_identical_file(coded_run, real_data_dir, tmp_path):
    """A run stopped mid-coding and started again with the same run dir writes the same bytes."""
    out, r = coded_run
    args = [*ARGS, f"hydra.run.dir={tmp_path}"]
    first = run_main([*args, "coding.stop_after=300"], real_data_dir)
    assert first.returncode == 0 and "paused after block 300" in first.stdout
    assert not (tmp_path / "model.mrc").exists() and (tmp_path / "coding_state.pt").exists()
    # paused.json: the record so far (the report's partial rows), the same evaluation before coding
    paused = json.loads((tmp_path / "paused.json").read_text())
    assert paused["paused"] == "coding paused after block 300 of 828"
    assert paused["test_error_uncompressed"] == r["test_error_uncompressed"] and paused["n_coded_params"] == 24830
    second = run_main(args, real_data_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "model.mrc").read_bytes() == (out / "model.mrc").read_bytes()
    # the resumed process evaluates the trained state before coding too, not a freshly built module
    resumed = json.loads((tmp_path / "results.json").read_text())
    assert resumed["test_error_uncompressed"] == r["test_error_uncompressed"]
    assert resumed["test_error_compressed"] == r["test_error_compressed"]
    assert not (tmp_path / "paused.json").exists()  # finished: results.json alone describes it
