"""Trains every training family for a few steps on the synthetic set, in this process (helpers.
run_in_process), one run dir per method under argv[1]. Started by tests/tasks/test_ddp.py under
torchrun with 2 processes (trainer=ddp, gloo) and compared with 1 process on the same global batch.

`ddp_train_worker.py OUT pwfn BASELINE`: PWFN's rounds instead (run_pwfn), from the baseline run dir."""
import os
import shutil
import sys
from pathlib import Path

from helpers import SYNTHETIC, run_in_process

METHODS = ("baseline", "meanvar", "meankl", "vd", "sws", "vd_sws")
STEPS = 4


def args_for(method: str, ddp: bool) -> list:
    return [*SYNTHETIC, f"method={method}", "model=lenet300_100", "init_from=null", "coding=none",
            f"method.train_steps={STEPS}", "trainer.log_every_n_steps=1", "trainer.accelerator=cpu",
            "pruning=none", *(["trainer=ddp", "trainer.devices=2"] if ddp else [])]


# PWFN: three rounds (fix 50 %, 90 %, 100 %) after 1, 4 and 4 steps (round 0: one batch; then two
# epochs of two batches), stopped after round 1 and resumed by the same command.
PWFN_SCHEDULE, PWFN_STEPS, PWFN_STOP = (0.5, 0.9, 1.0), 9, 1
PAUSED = "paused_rounds.pt"  # the resume state as the pause left it (the finished run deletes its own)


def pwfn_args(baseline, ddp: bool) -> list:
    return [*SYNTHETIC, "method=pwfn", "model=lenet300_100", f"init_from={baseline}",
            f"method.schedule=[{','.join(map(str, PWFN_SCHEDULE))}]", "method.epochs_per_round=2",
            "method.batches_per_epoch=2", "method.log_every=1", f"method.stop_after_round={PWFN_STOP}",
            "trainer.accelerator=cpu", *(["trainer=ddp", "trainer.devices=2"] if ddp else [])]


def run_pwfn(baseline, run_dir: Path, ddp: bool) -> dict:
    """Paused after round PWFN_STOP (its state kept as PAUSED), then the same command to the end."""
    paused = run_in_process(pwfn_args(baseline, ddp), run_dir)
    assert paused["status"] == "paused", paused
    if int(os.environ.get("RANK", 0)) == 0:
        shutil.copy(run_dir / "pwfn_rounds.pt", run_dir / PAUSED)
    return run_in_process(pwfn_args(baseline, ddp), run_dir)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    if sys.argv[2:3] == ["pwfn"]:
        run_pwfn(sys.argv[3], out / "pwfn", ddp=True)
    else:
        for method in METHODS:
            run_in_process(args_for(method, ddp=True), out / method)
