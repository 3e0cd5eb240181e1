"""method=pwfn end to end: real MNIST at a tiny scale (from the session's quick LeNet-300-100
baseline, all ten rounds, the file decoded in a fresh process to the same error), and the ResNet-18 /
CIFAR-10 chain on small format-true archives (init_from=auto -> pwfn -> model.cbk -> decode). The
runs go through the task in this process (tests/helpers.py: run_in_process), the decodes through
run.py in a fresh one."""
import csv
import json

import pytest

from helpers import CIFAR_FILES, run_cli, run_in_process, write_cifar

pytestmark = pytest.mark.slow
QUIET = ["trainer.progress_bar=false", "dataset.device=cpu"]


def _decode_matches(run, data_dir, extra, tmp_path):
    results = json.loads((run / "results.json").read_text())
    dec = run_cli(["task=decode", f"file={run / 'model.cbk'}", f"hydra.run.dir={tmp_path / 'decode'}", *extra],
                  data_dir)
    assert dec.returncode == 0, dec.stderr[-3000:]
    decoded = json.loads((tmp_path / "decode" / "decode.json").read_text())
    assert decoded["test_error"] == results["test_error"] == results["test_error_compressed"]
    assert decoded["weights_sha256"] == results["weights_sha256"]
    return results


def test_lenet300_on_real_mnist_fixes_every_weight_and_decodes_to_the_same_error(tmp_path, real_data_dir,
                                                                                 mnist_baseline):
    base = mnist_baseline("lenet300_100")  # the session's quick baseline (shared with Table 2's chain)
    run = tmp_path / "pwfn"
    run_in_process(["method=pwfn", "model=lenet300_100", "scale=quick", f"init_from={base}",
                    "method.batches_per_epoch=5", "method.epochs_per_round=1", *QUIET], run, real_data_dir)
    results = _decode_matches(run, real_data_dir, ["model=lenet300_100", *QUIET], tmp_path)
    assert results["n_rounds"] == 10 and results["fraction_fixed"] == 1.0
    assert [r["n_fixed"] for r in results["rounds"]] == [53322, 106644, 159966, 186627, 213288, 239949, 253280,
                                                          259945, 263944, 266610]  # ceil(266,610 p_t)
    assert results["unique_values"] <= 256 and 0 < results["entropy_bits"] < 8
    assert results["unique_values"] == results["unique_values_decoded"] == results["rounds"][-1]["unique_values"]
    assert results["decoded_equals_fixed"] and results["train_steps"] == 1 + 9 * 5
    # a working baseline stays working (tiny training: a loose bound, the quick LeNet-5 run is the target)
    assert results["test_error"] < results["test_error_uncompressed"] + 2.0 < 10.0
    assert (run / "figure1.npz").exists() and (run / "rounds.json").exists()
    assert not (run / "pwfn_rounds.pt").exists()  # finished: the resume state is gone
    metrics = (run / "metrics.csv").read_text().splitlines()[0]
    assert "round/test_error_after_fixing" in metrics and "round/unique_values/fc1" in metrics


def test_resnet18_chain_on_synthetic_cifar10_archives(tmp_path):
    data = write_cifar(tmp_path / "data", 10, per_batch=20, n_test=20)
    cifar = ["dataset=cifar10", "dataset.val_size=20", "dataset.batch_size=10", "dataset.eval_batch_size=20",
             CIFAR_FILES, "model=resnet18", *QUIET]
    run = tmp_path / "pwfn"
    run_in_process(["method=pwfn", "scale=quick", "init_from=auto", f"paths.pretrained_dir={tmp_path / 'pre'}",
                    "model.train.steps=2", "method.batches_per_epoch=1", "method.epochs_per_round=1",
                    "method.schedule=[1.0]", *cifar], run, data)
    assert (tmp_path / "pre" / "cifar10_resnet18_quick_s0" / "results.json").exists()
    results = _decode_matches(run, data, cifar, tmp_path)
    # every Conv2d / Linear weight and bias is fixed; BatchNorm (9,600 parameters) is not
    assert results["model"] == "resnet18" and results["n_fixable"] == 11_164_362 == results["n_coded_entries"]
    assert results["fraction_fixed"] == 1.0 and results["decoded_equals_fixed"]
    assert results["raw_bits"] > 0  # BatchNorm parameters and statistics travel raw


def test_rounds_are_the_training_phase_a_paused_run_resumes_to_the_same_file(tmp_path):
    """The rounds run in the family's fit (training), not in export: a run stopped after a round
    (method.stop_after_round) writes no file, and the same command in the same dir resumes the rounds
    and writes the bytes of an uninterrupted run; the metrics of the first part are kept."""
    base = ["dataset=synthetic", "scale=quick", "model=lenet300_100", "method=pwfn", "init_from=auto",
            f"paths.pretrained_dir={tmp_path / 'pre'}", "model.train.steps=10", "method.batches_per_epoch=2",
            "method.epochs_per_round=1", "method.schedule=[0.5,0.9,1.0]", *QUIET]
    straight = run_in_process(base, tmp_path / "straight")
    run = tmp_path / "stopped"
    paused = run_in_process([*base, "method.stop_after_round=0"], run)
    assert paused["status"] == "paused" and not (run / "model.cbk").exists() and (run / "pwfn_rounds.pt").exists()
    resumed = run_in_process([*base, "method.stop_after_round=0"], run)
    assert (run / "model.cbk").read_bytes() == (tmp_path / "straight" / "model.cbk").read_bytes()
    for key in ("test_error_uncompressed", "test_error", "train_steps", "n_rounds", "unique_values"):
        assert resumed[key] == straight[key], key
    assert resumed["n_rounds"] == 3 and resumed["fraction_fixed"] == 1.0
    with (run / "metrics.csv").open() as f:  # round 0's row, logged before the pause, is kept
        rounds = sorted(float(r["round/round"]) for r in csv.DictReader(f) if r.get("round/round"))
    assert rounds == [0.0, 1.0, 2.0]
