"""State-dict entries a format stores as they are: what a family does not compress (norms,
embeddings, biases it keeps in float, BatchNorm statistics), for `_target_` architectures.

The entries follow the architecture's state-dict order (the manifest of `coding.arch` names
them); each is, by its dtype in the architecture:

    floating point   numel x float32, little-endian (float16 / bfloat16 tensors round-trip exactly)
    integer, bool    numel x zigzag varint (num_batches_tracked, masks)

A reader takes shapes and dtypes from the architecture, never from the bytes, so a section can
only be too short, hold a non-finite float or an integer out of int64: each is a one-line error.
"""
from __future__ import annotations

import torch

from nncompress.coding import floats, varint

INT64 = (-(1 << 63), (1 << 63) - 1)


def _zigzag(v: int) -> int:
    return (v << 1) if v >= 0 else ((-v << 1) - 1)


def _unzigzag(u: int) -> int:
    return (u >> 1) if not u & 1 else -((u + 1) >> 1)


def write(state: dict, keys) -> bytes:
    """The entries `keys` of `state`, in that order."""
    out = bytearray()
    for key in keys:
        t = state[key].detach().cpu()
        if t.dtype.is_floating_point:
            out += floats.pack(t)
        else:
            out += b"".join(varint.encode(_zigzag(int(v))) for v in t.flatten().tolist())
    return bytes(out)


def read(raw: bytes, pos: int, template: dict, keys) -> tuple:
    """({key: tensor of the template's shape and dtype}, next position)."""
    out = {}
    for key in keys:
        like = template[key]
        n = like.numel()
        if like.dtype.is_floating_point:
            values, pos = floats.read(raw, pos, n, key)
            out[key] = values.to(like.dtype).reshape(like.shape)
            continue
        values = []
        for _ in range(n):
            u, pos = varint.decode(raw, pos, limit=(1 << 64) - 1)
            values.append(_unzigzag(u))
        if values and not INT64[0] <= min(values) <= max(values) <= INT64[1]:
            raise ValueError(f"{key}: integer outside int64")
        out[key] = torch.tensor(values, dtype=torch.int64).to(like.dtype).reshape(like.shape)
    return out, pos

