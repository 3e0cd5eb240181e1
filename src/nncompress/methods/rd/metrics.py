"""Test-set metrics of a network as paper 003's figures plot them: top-1 (and top-5) accuracy and
the cross-entropy, summed exactly over the whole test set (float64), not averaged per batch."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


@torch.no_grad()
def classification_metrics(predict: Callable, loader, prefix: str = "test", suffix: str = "") -> dict:
    """{test_accuracy, test_ce, test_top5_accuracy (10+ classes)} of `predict(x) -> logits`, in %
    and nats per example; `suffix` is appended to each key (e.g. "_uncompressed")."""
    n = correct = correct5 = 0
    ce = 0.0
    classes = None
    for x, y in loader:
        logits = predict(x)
        classes = logits.shape[1]
        ce += float(F.cross_entropy(logits.double(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        if classes >= 10:
            top5 = logits.topk(5, dim=1).indices
            correct5 += int((top5 == y[:, None]).any(1).sum())
        n += len(y)
    out = {f"{prefix}_accuracy{suffix}": 100.0 * correct / n, f"{prefix}_ce{suffix}": ce / n}
    if classes is not None and classes >= 10:
        out[f"{prefix}_top5_accuracy{suffix}"] = 100.0 * correct5 / n
    return out
