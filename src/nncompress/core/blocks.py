"""Partition of the coded variables into blocks for block-wise relative entropy coding.

One seeded portable permutation of all coded variables (across layers) is cut into blocks of
`block_size`; the last block is shorter. Padding slots are marked invalid: they are neither
parameters nor coded nor counted.
"""
from __future__ import annotations

import math

import torch

from nncompress.core import generator as G


class BlockPartition:
    def __init__(self, n: int, block_size: int, seed: int):
        if block_size < 1:
            raise ValueError(f"block size must be positive, got {block_size}")
        self.n, self.block_size, self.seed = n, block_size, seed
        self.n_blocks = math.ceil(n / block_size)
        order = G.permutation(seed, n)
        slots = torch.full((self.n_blocks * block_size,), n, dtype=torch.int64)
        slots[:n] = order
        self.slots = slots.view(self.n_blocks, block_size)  # coded index, n = padding
        self.valid = self.slots < n
        self.block_of = torch.empty(n, dtype=torch.int64)
        self.block_of[order] = torch.arange(n) // block_size

    def members(self, b: int) -> torch.Tensor:
        """Coded indices of block b, in slot order."""
        row = self.slots[b]
        return row[row < self.n]

    def to(self, device) -> BlockPartition:
        self.slots, self.valid, self.block_of = (t.to(device) for t in (self.slots, self.valid, self.block_of))
        return self

    def block_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of a per-variable quantity within each block: [n] -> [n_blocks]."""
        out = torch.zeros(self.n_blocks, dtype=values.dtype, device=values.device)
        return out.index_add(0, self.block_of, values)

    def block_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax of per-variable logits within each block, returned per variable."""
        padded = torch.cat([logits, logits.new_full((1,), -math.inf)])[self.slots]
        quotas = torch.softmax(padded, dim=1)
        out = torch.empty_like(logits)
        out[self.slots[self.valid]] = quotas[self.valid]
        return out

    def block_counts(self) -> torch.Tensor:
        return self.valid.sum(1)
