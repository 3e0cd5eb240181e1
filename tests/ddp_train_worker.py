"""Trains every training family for a few steps on the synthetic set, in this process (helpers.
run_in_process), one run dir per method under argv[1]. Started by tests/tasks/test_ddp.py under
torchrun with 2 processes (trainer=ddp, gloo) and compared with 1 process on the same global batch."""
import sys
from pathlib import Path

from helpers import SYNTHETIC, run_in_process

METHODS = ("baseline", "meanvar", "meankl", "vd", "sws", "vd_sws")
STEPS = 4


def args_for(method: str, ddp: bool) -> list:
    return [*SYNTHETIC, f"method={method}", "model=lenet300_100", "init_from=null", "coding=none",
            f"method.train_steps={STEPS}", "trainer.log_every_n_steps=1", "trainer.accelerator=cpu",
            "pruning=none", *(["trainer=ddp", "trainer.devices=2"] if ddp else [])]


if __name__ == "__main__":
    out = Path(sys.argv[1])
    for method in METHODS:
        run_in_process(args_for(method, ddp=True), out / method)
