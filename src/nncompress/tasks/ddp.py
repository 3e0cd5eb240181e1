"""trainer=ddp: the Trainer's strategy, devices and nodes from config, and the callback that tells
layers which rows of the global batch this rank holds (`core.shards`).

One process per device (`trainer.devices` per node × `trainer.num_nodes`), launched by Lightning
(`python run.py trainer=ddp`: it starts the other ranks itself), by `torchrun`, or by SLURM (one
task per device, `hydra/launcher=submitit_slurm`). `dataset.batch_size` stays the global batch;
each rank trains on its B/W rows, and the prior / KL terms keep the global N (see core.shards).
"""
from __future__ import annotations

import lightning as L
import torch

from nncompress.core import shards


def strategy_kwargs(t) -> dict:
    """Trainer keyword arguments for the `trainer:` node's strategy, devices and num_nodes."""
    devices = t.get("devices", 1)
    return {"strategy": t.get("strategy", "auto"), "devices": devices if devices == "auto" else int(devices),
            "num_nodes": int(t.get("num_nodes", 1))}


class ShardedBatches(L.Callback):
    """Around each training step: `core.shards.active(rank, world)`, so per-example noise is this
    rank's rows of the global batch's; after it, `train/loss_global`, the loss averaged over ranks
    (the loss of the global batch: each rank's is the mean over its B/W rows plus the shared terms).

    Lightning's DDP set-up re-seeds every rank with the run's seed (`reset_seed`), which one process
    does not do; the random state this callback was built with (just before `fit`) is put back at
    the start of a multi-process fit, so W ranks draw the noise one process draws."""

    def __init__(self):
        self._shard = None
        self._rng = torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def on_fit_start(self, trainer, pl_module):
        if trainer.world_size > 1:
            torch.set_rng_state(self._rng[0])
            if self._rng[1] is not None:
                torch.cuda.set_rng_state_all(self._rng[1])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._shard = shards.active(trainer.global_rank, trainer.world_size)
        self._shard.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._shard is not None:
            self._shard.__exit__(None, None, None)
            self._shard = None
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and trainer.loggers:  # a Trainer without loggers (PWFN's rounds) logs its own
            pl_module.log("train/loss_global", loss.detach(), sync_dist=trainer.world_size > 1,
                          on_step=True, on_epoch=False, batch_size=1)
