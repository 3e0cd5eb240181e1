import pytest
import torch

from nncompress.core.blocks import BlockPartition


@pytest.mark.parametrize("bs,nb", [(20, 1242), (30, 828), (40, 621)])
def test_paper_block_counts(bs, nb):
    part = BlockPartition(24830, bs, 0)
    assert part.n_blocks == nb
    members = torch.cat([part.members(b) for b in range(nb)])
    assert torch.equal(torch.sort(members).values, torch.arange(24830))  # each variable once
    assert int(part.valid.sum()) == 24830  # padding is not counted


def test_block_of_agrees_with_members():
    part = BlockPartition(103, 10, 5)
    for b in range(part.n_blocks):
        assert (part.block_of[part.members(b)] == b).all()


def test_block_softmax_and_sum():
    part = BlockPartition(95, 10, 1)
    q = part.block_softmax(torch.randn(95))
    assert torch.allclose(part.block_sum(q), torch.ones(part.n_blocks))
    assert len(part.members(part.n_blocks - 1)) == 5


def test_rejects_bad_block_size():
    with pytest.raises(ValueError, match="block size"):
        BlockPartition(10, 0, 0)
