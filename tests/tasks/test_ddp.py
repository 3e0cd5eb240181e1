"""trainer=ddp (issue 22): 2 CPU processes (gloo, under torchrun) train every training family to
the loss curve and weights of 1 process on the same global batch; the KL and prior terms keep the
global N (a per-shard N would double them on 2 ranks and the curves would part)."""
import csv
import json
import math
import socket
import subprocess
import sys

import pytest
import torch

from ddp_train_worker import (
    METHODS,
    PAUSED,
    PWFN_SCHEDULE,
    PWFN_STEPS,
    PWFN_STOP,
    STEPS,
    args_for,
    run_pwfn,
)
from helpers import ROOT, SYNTHETIC, cli_command, run_in_process


def _curve(run_dir, key="train/loss_global") -> list:
    with (run_dir / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get(key)]
    return [float(r[key]) for r in sorted(rows, key=lambda r: int(r["step"]))]


def _torchrun(worker_args, timeout=600):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, env = cli_command([])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
           str(ROOT / "tests" / "ddp_train_worker.py"), *map(str, worker_args)]
    proc = subprocess.run(cmd, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT / "tests")}, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _weights(run_dir) -> dict:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items() if v.is_floating_point()}


@pytest.mark.slow
def test_two_processes_train_as_one(tmp_path):
    _torchrun([tmp_path / "two"])
    for method in METHODS:
        one, two = tmp_path / "one" / method, tmp_path / "two" / method
        run_in_process(args_for(method, ddp=False), one)
        curve = _curve(one)
        assert len(curve) == STEPS and len(set(curve)) > 1, method  # it trained, and the loss moved
        assert _curve(two) == pytest.approx(curve, rel=1e-5, abs=1e-6), method
        w1, w2 = _weights(one), _weights(two)
        assert w1.keys() == w2.keys()
        for key in w1:
            assert torch.allclose(w1[key], w2[key], rtol=1e-4, atol=1e-5), (method, key)


@pytest.mark.slow
def test_torchrun_resumes_coding_on_two_ranks_to_the_bytes_of_one(tmp_path):
    """run.py end to end: train and code one block on one process (paused), then finish the coding
    on 1 process and, from a copy of the run dir, on 2 (torchrun, trainer=ddp): the same model.mrc."""
    import shutil

    args = ["dataset=synthetic", "dataset.device=cpu", "scale=quick", "trainer.progress_bar=false", "method=meankl",
            "+model.hashing.conv1=10", "model.hashing.conv2=100", "model.hashing.fc1=1000",
            "+model.hashing.fc2=50", "method.train_steps=3", "trainer.accelerator=cpu",
            "pruning=none", "coding=mrc", "coding.bits_per_block=8", "coding.finetune_steps=2",
            "coding.round_blocks=4", "coding.progress=false"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_in_process([*args, "coding.stop_after=1"], one)["status"] == "paused"
    shutil.copytree(one, two)
    record = run_in_process(args, one)
    assert record["coding_ranks"] == 1 and record["n_blocks"] == 46
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd, env = cli_command([*args, "trainer=ddp", f"hydra.run.dir={two}"])
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={port}", *cmd[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (two / "model.mrc").read_bytes() == (one / "model.mrc").read_bytes()
    import json

    assert json.loads((two / "results.json").read_text())["coding_ranks"] == 2


@pytest.mark.slow
def test_pwfn_rounds_on_two_processes_fix_as_one(tmp_path):
    """PWFN's rounds (each its own Trainer) under trainer=ddp: 2 ranks on rows of the global batch
    reach 1 process's loss curve, make its fixing decisions in every round (the same weights on the
    same centres), pause and resume alike, and write its codebook file byte for byte."""
    base = tmp_path / "base"
    run_in_process([*SYNTHETIC, "method=baseline", "model=lenet300_100", "init_from=null", "coding=none",
                    "method.train_steps=20", "trainer.accelerator=cpu", "pruning=none"], base)
    _torchrun([tmp_path / "two", "pwfn", base])
    one_rec = run_pwfn(base, tmp_path / "one" / "pwfn", ddp=False)
    one, two = tmp_path / "one" / "pwfn", tmp_path / "two" / "pwfn"
    two_rec = json.loads((two / "results.json").read_text())
    assert one_rec["train_ranks"] == 1 and two_rec["train_ranks"] == 2

    curve = _curve(one, "train/loss")
    assert len(curve) == PWFN_STEPS == one_rec["train_steps"] == two_rec["train_steps"]
    assert len(set(curve)) > 1  # it trained, and the loss moved
    assert _curve(two, "train/loss") == pytest.approx(curve, rel=1e-5, abs=1e-6)
    # each rank trained on its half of the global batch of 200 (the whole batch on both would give
    # the same curve too)
    assert set(_curve(one, "train/rows_per_rank")) == {200} and set(_curve(two, "train/rows_per_rank")) == {100}

    # every round: the same weights fixed to the same values, and rank 1 agreed with rank 0 by itself
    r1, r2 = one_rec["rounds"], two_rec["rounds"]
    assert [r["round"] for r in r2] == list(range(len(PWFN_SCHEDULE)))
    assert [r["assignment_sha256"] for r in r2] == [r["assignment_sha256"] for r in r1]
    for a, b in zip(r1, r2):
        assert b["ranks_differed"] == 0
        for key in ("n_fixed", "target", "picks", "omega", "delta", "unique_values", "entropy_bits",
                    "test_error_before_fixing", "test_error_after_fixing"):
            assert a[key] == b[key], (a["round"], key)
    assert r2[-1]["fraction_fixed"] == 1.0

    # the paused state (after round PWFN_STOP): masks equal, means and sigmas within float tolerance
    s1, s2 = (torch.load(d / PAUSED, map_location="cpu", weights_only=False) for d in (one, two))
    assert s1["round"] == s2["round"] == PWFN_STOP
    assert s1["module"].keys() == s2["module"].keys()
    n_fixed = n_weights = 0
    for key, v1 in s1["module"].items():
        v2 = s2["module"][key]
        if v1.dtype == torch.bool:  # the fixed masks
            assert torch.equal(v1, v2), key
            n_fixed, n_weights = n_fixed + int(v1.sum()), n_weights + v1.numel()
        else:
            assert torch.allclose(v1, v2, rtol=1e-4, atol=1e-6), key
    assert n_fixed == r1[PWFN_STOP]["n_fixed"] == math.ceil(PWFN_SCHEDULE[PWFN_STOP] * n_weights)

    assert (two / "model.cbk").read_bytes() == (one / "model.cbk").read_bytes()
    assert two_rec["test_error"] == one_rec["test_error"]
    assert not (two / "pwfn_rounds.pt").exists()  # the finished run (rank 0) removed its resume state
