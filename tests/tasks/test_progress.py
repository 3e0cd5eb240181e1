"""The training bar counts optimiser steps up to max_steps, with the module's bar metrics."""
import itertools

import lightning as L
import torch

from nncompress.tasks.progress import StepProgressBar


class _Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(3, 2)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.w(x), y)
        self.log("train/ce", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        batch = (torch.randn(8, 3, generator=g), torch.randint(2, (8,), generator=g))
        return itertools.repeat(batch)  # endless, as the methods' in-memory batches are


def _fit(steps, bar, tmp_path):
    trainer = L.Trainer(max_steps=steps, callbacks=[bar], enable_progress_bar=True, logger=False,
                        enable_checkpointing=False, enable_model_summary=False, limit_val_batches=0,
                        default_root_dir=str(tmp_path))
    trainer.fit(_Tiny())
    return trainer


def test_bar_counts_steps_to_max_steps_with_metrics(tmp_path, capsys):
    bar = StepProgressBar(refresh_steps=5)
    trainer = _fit(25, bar, tmp_path)
    err = capsys.readouterr().err.replace("\r", "\n")
    assert trainer.global_step == 25
    assert "Training: 100%" in err and "25/25" in err
    assert "ce=" in err and "train/ce" not in err  # the prefix is dropped
    assert "Epoch" not in err  # not Lightning's per-epoch bar
    assert bar.bar is None  # closed at the end


def test_disabled_bar_prints_nothing(tmp_path, capsys):
    bar = StepProgressBar()
    bar.disable()
    _fit(5, bar, tmp_path)
    assert "Training" not in capsys.readouterr().err


def test_postfix_is_short():
    post = StepProgressBar.postfix({"train/ce": 0.123456, "val/error": 1.5, "v_num": 3, "train/kl_bits": 39012.4})
    assert post == {"ce": "0.1235", "val/error": "1.5", "kl_bits": "39,012"}
