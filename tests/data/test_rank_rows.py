"""trainer=ddp's data split (issue 22): W ranks' rows of each batch are one process's batch, and
per-example noise drawn under `core.shards.active` is the rows of one process's noise."""
import pytest
import torch

from nncompress.core import shards
from nncompress.data.cifar import RandomCropFlipLoader
from nncompress.data.datamodule import RankRows, TensorBatchLoader


def _loaders(cls, world, **kw):
    x = torch.randn(60, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(60)
    return [RankRows(cls(x, y, 12, shuffle=True, seed=3, **kw), r, world) for r in range(world)], cls(
        x, y, 12, shuffle=True, seed=3, **kw)


@pytest.mark.parametrize("cls", [TensorBatchLoader, RandomCropFlipLoader])
def test_ranks_rows_make_the_global_batch(cls):
    ranks, one = _loaders(cls, 3)
    for _epoch in range(2):  # a new order (and new crops) each epoch, alike on every rank
        parts = [list(r) for r in ranks]
        whole = list(one)
        assert len(whole) == len(ranks[0]) == 5
        for i, (x, y) in enumerate(whole):
            assert torch.equal(torch.cat([p[i][0] for p in parts]), x)
            assert torch.equal(torch.cat([p[i][1] for p in parts]), y)
            assert len(parts[1][i][1]) == 4


def test_a_batch_that_does_not_split_is_refused():
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        RankRows(TensorBatchLoader(torch.zeros(10, 1), torch.zeros(10), 5), 0, 2)


def test_per_example_noise_is_the_rank_rows_of_the_global_noise():
    torch.manual_seed(7)
    whole = shards.randn_rows(torch.zeros(8, 5))
    parts = []
    for rank in range(2):
        torch.manual_seed(7)
        with shards.active(rank, 2):
            parts.append(shards.randn_rows(torch.zeros(4, 5)))
    assert torch.equal(torch.cat(parts), whole)
    assert shards.current() == (0, 1)  # restored after the step
    assert not torch.equal(parts[0], parts[1])
