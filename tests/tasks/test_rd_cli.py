"""method=rd through run.py: real MNIST (a small MLP trained here, then pruned and quantised, each
file decoded in a fresh process), the CIFAR chain on synthetic archives (init_from=auto ->
importance -> model.cbk -> decode), and bad settings refused before any work."""
import json

import pytest

from helpers import CIFAR_FILES, run_cli, run_in_process, run_main, write_cifar

pytestmark = pytest.mark.slow
QUIET = ["trainer.progress_bar=false"]


def _decode(file, data_dir, out, *extra):
    proc = run_cli([*extra, "task=decode", f"file={file}", f"hydra.run.dir={out}"], data_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "decode.json").read_text())


@pytest.fixture(scope="module")
def mnist_mlp(real_data_dir, tmp_path_factory):
    """The paper's MLP on real MNIST, 300 SGD steps of its recipe (~96 % accuracy)."""
    out = tmp_path_factory.mktemp("mlp_baseline")
    run_in_process(["method=baseline", "model=mlp", "coding=none", "scale=quick", "method.train_steps=300", *QUIET],
                   out, real_data_dir)
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("args, slack", [
    (["importance=fisher", "method.operation=prune", "method.keep=0.2"], 3.0),
    (["importance=grad_hessian", "importance.temperature=2", "method.operation=quantize", "method.bits=3"], 2.0),
])
def test_prune_and_quantize_real_mnist_and_decode_in_a_fresh_process(mnist_mlp, real_data_dir, tmp_path, args,
                                                                    slack):
    base_dir, base = mnist_mlp
    run = tmp_path / "run"
    run_in_process(["method=rd", "scale=quick", "importance.n_samples=1000", *args, f"init_from={base_dir}",
                    *QUIET], run, real_data_dir)
    r = json.loads((run / "results.json").read_text())
    assert r["decoded_equal"] and r["test_error_uncompressed"] == base["test_error"]
    assert r["test_error"] <= base["test_error"] + slack  # 80 % pruned / 3 bits, no fine-tuning
    assert r["importance_samples"] == 1000 and r["test_accuracy"] == pytest.approx(100 - r["test_error"])
    assert r["compressed_bytes"] == (run / "model.cbk").stat().st_size
    if r["operation"] == "prune":
        assert r["nonzero_fraction"] == pytest.approx(0.2, abs=1e-4) and r["ratio_paper"] == pytest.approx(5, rel=1e-3)
    else:
        assert r["clusters"] == 8 and r["unique_values"] <= 3 * 8 and 9 < r["ratio_paper"] <= 32 / 3
    dec = _decode(run / "model.cbk", real_data_dir, tmp_path / "decode")
    assert dec["test_error"] == r["test_error_compressed"] and dec["weights_sha256"] == r["weights_sha256"]
    if r["operation"] != "prune":
        return
    # the estimate was cached beside the baseline: a second job reuses it
    run_in_process(["method=rd", "scale=quick", "importance.n_samples=1000", *args, "method.keep=0.5",
                    f"init_from={base_dir}", *QUIET], tmp_path / "again", real_data_dir)
    assert json.loads((tmp_path / "again" / "results.json").read_text())["importance_cached"]


def test_cifar10_chain_on_synthetic_archives(tmp_path):
    """init_from=auto trains a (2-step) CIFAR CNN baseline, rd prunes it by fisher into model.cbk,
    and a fresh process decodes the file to the same error (BatchNorm statistics included)."""
    data = write_cifar(tmp_path / "data", classes=10)
    # batches of 20: a step of the CIFAR CNN costs ~10 s here at 200
    common = ["dataset=cifar10", "model=cifar_cnn", "dataset.val_size=40", "dataset.batch_size=20",
              "dataset.device=cpu", CIFAR_FILES]
    pre = tmp_path / "pretrained"
    run_in_process([*common, "method=rd", "scale=quick", "model.train.steps=2", "importance=fisher",
                    "importance.n_samples=8", "method.keep=0.05", f"paths.pretrained_dir={pre}", *QUIET],
                   tmp_path / "run", data)
    (base,) = list(pre.iterdir())
    assert base.name == "cifar10_cifar_cnn_quick_s0"
    assert json.loads((base / "results.json").read_text())["method"] == "baseline"
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert r["decoded_equal"] and r["model"] == "cifar_cnn" and r["importance_samples"] == 8
    assert r["nonzero_fraction"] == pytest.approx(0.05, abs=1e-3) and "test_top5_accuracy" in r
    assert (base / "importance").is_dir()
    dec = _decode(tmp_path / "run" / "model.cbk", data, tmp_path / "decode", *common)
    assert dec["test_error"] == r["test_error_compressed"] and dec["weights_sha256"] == r["weights_sha256"]


@pytest.mark.parametrize("override, message", [  # the others: tests/methods/rd/test_rd_family.py
    ("method.keep=1.5", "error: method.keep=1.5: the keep-rate must be a number in (0, 1]"),
])
def test_bad_settings_fail_in_one_line_before_any_work(tmp_path, override, message):
    pre = tmp_path / "pretrained"
    proc = run_cli(["method=rd", "dataset=synthetic", override, f"paths.pretrained_dir={pre}",
                    f"hydra.run.dir={tmp_path / 'run'}"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not pre.exists()  # no baseline was trained


@pytest.mark.parametrize("start, message", [("null", "error: method=rd compresses a trained network"),
                                            ("nope", "error: init_from=")])
def test_no_network_to_start_from_fails_in_one_line(tmp_path, start, message):
    init_from = "null" if start == "null" else tmp_path / start
    proc = run_main(["method=rd", "dataset=synthetic", f"init_from={init_from}", f"hydra.run.dir={tmp_path / 'run'}"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith(message)
