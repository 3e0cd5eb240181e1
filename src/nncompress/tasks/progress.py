"""One progress bar over a run's training steps.

Lightning's own bar counts batches per epoch; the methods here train for `max_steps` over an
endless stream of batches, where it shows a meaningless epoch total ("Epoch 5/-2"). This bar
counts optimiser steps up to max_steps, from where a resumed run starts, with the ETA users
look for and the metrics the module logs with prog_bar=True (its `train/` prefix dropped).
"""
from __future__ import annotations

from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar
from tqdm.auto import tqdm

REFRESH_STEPS = 10  # metrics are read from the trainer this often (each read syncs the device)


class StepProgressBar(ProgressBar):
    def __init__(self, refresh_steps: int = REFRESH_STEPS):
        super().__init__()
        self.refresh_steps = max(1, int(refresh_steps))
        self._enabled = True
        self.bar = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer, pl_module) -> None:
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        self.bar = tqdm(total=total, initial=trainer.global_step, desc="Training", unit="step",
                        disable=not (self._enabled and trainer.is_global_zero), dynamic_ncols=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.bar is None:
            return
        self.bar.update(trainer.global_step - self.bar.n)
        if trainer.global_step % self.refresh_steps == 0 and not self.bar.disable:
            self.bar.set_postfix(self.postfix(self.get_metrics(trainer, pl_module)), refresh=False)

    @staticmethod
    def postfix(metrics: dict) -> dict:
        """The bar's metrics, short: 'train/ce' -> 'ce'; numbers to 4 significant digits, whole from 1,000."""
        out = {}
        for key, value in metrics.items():
            if key == "v_num":
                continue
            name = key.split("/", 1)[1] if key.startswith("train/") else key
            if isinstance(value, (int, float)):
                value = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
            out[name] = value
        return out

    def on_train_end(self, trainer, pl_module) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def print(self, *args, **kwargs) -> None:
        tqdm.write(" ".join(map(str, args)), **kwargs)
