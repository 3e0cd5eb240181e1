"""The hashing trick (Chen et al. 2015): a virtual weight tensor shares a smaller real vector.

Each virtual entry i reads real entry index[i] with a random sign. The index map is balanced:
a portable permutation of the virtual entries is dealt round-robin onto the real entries, so
every real variable is used ceil/floor(numel/n_real) times and none is wasted on coding.
"""
from __future__ import annotations

import math

import torch

from nncompress.core import generator as G


def hash_map(numel: int, factor: int, seed: int, layer_id: int):
    """(index, sign, n_real) for a virtual tensor of `numel` entries hashed `factor`-fold."""
    n_real = math.ceil(numel / factor)
    order = G.permutation(G.derive_key(seed, G.STREAM_HASH, layer_id), numel)
    index = torch.empty(numel, dtype=torch.int64)
    index[order] = torch.arange(numel, dtype=torch.int64) % n_real
    key = G.derive_key(seed, G.STREAM_HASH, layer_id, 1)
    bits = G.uint32(key, torch.arange(numel, dtype=torch.int64)) & 1
    sign = 1.0 - 2.0 * bits.to(torch.float32)
    return index, sign, n_real
