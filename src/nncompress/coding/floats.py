"""Runs of little-endian float32, as every format stores its scales, codebooks and raw tensors.

`read` is for untrusted bytes: the run must lie inside the payload and every value be finite, so
a crafted file cannot hand a NaN or infinite network to evaluation.
"""
from __future__ import annotations

import numpy as np
import torch


def pack(t: torch.Tensor) -> bytes:
    return np.ascontiguousarray(t.detach().cpu().float().numpy().ravel(), dtype="<f4").tobytes()


def read(raw: bytes, pos: int, n: int, what: str) -> tuple:
    """(float32 tensor of n values, next position); ValueError naming `what` when the run is
    truncated or holds a NaN or an infinity."""
    if n < 0 or pos + 4 * n > len(raw):
        raise ValueError(f"{what} truncated: {n} float32 values need {4 * n} bytes, {max(0, len(raw) - pos)} remain")
    values = np.frombuffer(raw, dtype="<f4", count=n, offset=pos).astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError(f"{what} holds a NaN or an infinity")
    return torch.from_numpy(values), pos + 4 * n
