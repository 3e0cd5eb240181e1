"""Data-parallel training (trainer=ddp): which rows of the global batch this process holds.

Under DDP each of W ranks trains on B/W rows of the global batch B (`dataset.batch_size`, the
papers' batch) and the gradients are averaged, so a rank's loss must be the mean over its rows plus
the *whole* prior or KL term divided by the *global* training-set size N (e.g. sparse VD's
KL/N, paper 001 eq. 3; MIRACLE's beta-weighted block KLs, paper 000 eq. 5): the average over ranks
then equals the loss of one process on the global batch. The datamodules keep the whole training set
on every rank (so N stays global) and cut each global batch into W contiguous row ranges
(`data.datamodule.RankRows`).

Noise drawn per example (sparse VD's local reparameterisation) must also be the noise one process
would draw for those rows: `randn_rows` draws the global batch's noise from the shared generator
(seeded alike on every rank) and keeps this rank's rows. Noise drawn per weight (MIRACLE, Bayes by
backprop) is shared by the whole batch and needs nothing. `active(rank, world)` is set around each
training step by `tasks.ddp.ShardedBatches`; outside it (evaluation, coding) `randn_rows` is
`torch.randn_like`.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

_SHARD = (0, 1)  # (rank, world) of the training step now running


@contextmanager
def active(rank: int, world: int):
    """Within: the batches a module sees are rows `rank` of `world` equal parts of the global batch."""
    global _SHARD
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in 0..{world - 1}")
    before, _SHARD = _SHARD, (int(rank), int(world))
    try:
        yield
    finally:
        _SHARD = before


def current() -> tuple:
    """(rank, world) of the training step now running; (0, 1) outside one."""
    return _SHARD


def rows(n_global: int, rank: int, world: int) -> slice:
    """The rows of a global batch of `n_global` that `rank` holds: the rank-th of `world` equal parts."""
    if n_global % world:
        raise ValueError(f"a global batch of {n_global} does not split into {world} equal parts; "
                         f"make dataset.batch_size a multiple of the number of processes")
    per = n_global // world
    return slice(rank * per, (rank + 1) * per)


def randn_rows(like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise shaped like `like` (dim 0: this rank's rows of the global batch), equal
    to those rows of the noise one process draws for the whole batch from the same generator state."""
    rank, world = _SHARD
    if world == 1:
        return torch.randn_like(like)
    full = torch.randn((like.shape[0] * world, *like.shape[1:]), dtype=like.dtype, device=like.device)
    return full[rows(len(full), rank, world)]
