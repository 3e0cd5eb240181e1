"""Evaluation helpers shared by training, decoding and pruning curves."""
from __future__ import annotations

import hashlib

import torch


@torch.no_grad()
def test_error(network, weights, loader) -> float:
    """Test error in percent over a loader of `network(x, weights)`, or of `network(x)` if weights is None.

    Counts wrong predictions exactly (no per-batch averaging), so the same network on the same data
    gives the same number in every process.
    """
    wrong = total = 0
    for x, y in loader:
        logits = logits_of(network(x) if weights is None else network(x, weights))
        wrong += int((logits.argmax(1) != y).sum())
        total += len(y)
    return 100.0 * wrong / total


def weights_sha256(weights: torch.Tensor) -> str:
    """SHA-256 of a weight vector as little-endian float32: the identity of a decoded network."""
    data = weights.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
    return hashlib.sha256(data).hexdigest()


def logits_of(out) -> torch.Tensor:
    """A classifier's logits from whatever its forward returns: a tensor, an output object with
    `.logits` (as transformers' models return), or a tuple whose first entry they are."""
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"the model returned {type(out).__name__}, not logits")
