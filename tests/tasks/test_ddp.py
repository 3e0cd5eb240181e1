"""trainer=ddp (issue 22): 2 CPU processes (gloo, under torchrun) train every training family to
the loss curve and weights of 1 process on the same global batch; the KL and prior terms keep the
global N (a per-shard N would double them on 2 ranks and the curves would part)."""
import csv
import socket
import subprocess
import sys

import pytest
import torch

from ddp_train_worker import METHODS, STEPS, args_for
from helpers import ROOT, cli_command, run_in_process


def _curve(run_dir) -> list:
    with (run_dir / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/loss_global")]
    return [float(r["train/loss_global"]) for r in sorted(rows, key=lambda r: int(r["step"]))]


def _weights(run_dir) -> dict:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items() if v.is_floating_point()}


@pytest.mark.slow
def test_two_processes_train_as_one(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, env = cli_command([])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
           str(ROOT / "tests" / "ddp_train_worker.py"), str(tmp_path / "two")]
    proc = subprocess.run(cmd, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT / "tests")}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
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
