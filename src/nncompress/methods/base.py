"""Shared pieces of the method LightningModules: the classification metrics."""
from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F


class ClassifierModule(L.LightningModule):
    """Subclasses provide `eval_weights()` (the coded vector evaluated) or override `predict`."""


    def eval_weights(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x, self.eval_weights())

    def _eval_step(self, batch, stage: str):
        x, y = batch
        logits = self.predict(x)
        loss = F.cross_entropy(logits, y)
        err = (logits.argmax(1) != y).float().mean() * 100.0
        self.log(f"{stage}/ce", loss, prog_bar=False, batch_size=len(y))
        self.log(f"{stage}/error", err, prog_bar=stage == "val", batch_size=len(y))

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")


@torch.no_grad()
def test_error(network, weights, loader) -> float:
    """Test error in percent over a loader of `network(x, weights)`, or of `network(x)` if weights is None."""
    wrong = total = 0
    for x, y in loader:
        logits = network(x) if weights is None else network(x, weights)
        wrong += int((logits.argmax(1) != y).sum())
        total += len(y)
    return 100.0 * wrong / total
