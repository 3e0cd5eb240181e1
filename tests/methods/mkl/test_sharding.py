"""MRC coding shared across DDP ranks (issue 22): the schedule, byte-identical files for 1 and 2
processes (CPU, gloo), and resuming after a rank dies."""
import pytest
import torch
from torch.multiprocessing.spawn import ProcessException

from nncompress.bench.ranks import code_on_ranks
from nncompress.methods.mkl.sharding import Ranks, round_size, rounds


def test_rounds_are_aligned_so_a_resumed_run_keeps_them():
    assert rounds(0, 7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert rounds(4, 7, 3) == [(4, 6), (6, 7)]  # resumed mid-round: the next rounds are the uninterrupted run's
    assert rounds(7, 7, 3) == []
    with pytest.raises(ValueError):
        rounds(0, 5, 0)


def test_round_size_depends_on_the_rank_count_only_without_fine_tuning():
    assert round_size(4, finetune_steps=100, world=2) == round_size(4, finetune_steps=100, world=8) == 4
    assert round_size(4, finetune_steps=0, world=2) == 8
    with pytest.raises(ValueError):
        round_size(0, 100, 1)


def test_alone_every_block_is_mine():
    alone = Ranks()
    assert all(alone.owns(b) for b in range(5)) and alone.exchange({3: "x"}) == {3: "x"}
    second = Ranks(rank=1, world=2)
    assert [b for b in range(6) if second.owns(b)] == [1, 3, 5]


NO_FT = {"bits_per_block": 8, "finetune_steps": 0, "chunk_log2": 6}
FT = {"bits_per_block": 8, "finetune_steps": 3, "chunk_log2": 6, "round_blocks": 2, "lr": 0.03}


@pytest.mark.slow
def test_two_processes_write_the_bytes_of_one(tmp_path):
    """Without fine-tuning the file depends neither on W nor on round_blocks; with fine-tuning it
    depends on round_blocks (the schedule) but not on W."""
    one = code_on_ranks(1, tmp_path / "one", NO_FT)
    code_on_ranks(1, tmp_path / "one_r3", {**NO_FT, "round_blocks": 3})
    code_on_ranks(2, tmp_path / "two", NO_FT)
    ref = (tmp_path / "one" / "model.mrc").read_bytes()
    assert one["blocks"] == 46 and len(ref) > 46  # 46 indices of 8 bits and the header
    assert (tmp_path / "two" / "model.mrc").read_bytes() == ref
    assert (tmp_path / "one_r3" / "model.mrc").read_bytes() == ref

    code_on_ranks(1, tmp_path / "ft_one", FT)
    code_on_ranks(2, tmp_path / "ft_two", FT)
    code_on_ranks(1, tmp_path / "ft_r1", {**FT, "round_blocks": 1})
    ft = (tmp_path / "ft_one" / "model.mrc").read_bytes()
    assert (tmp_path / "ft_two" / "model.mrc").read_bytes() == ft
    assert ft != ref  # fine-tuning moved the posterior of later blocks
    assert (tmp_path / "ft_r1" / "model.mrc").read_bytes() != ft  # ... and when it runs is the schedule


@pytest.mark.slow
def test_a_rank_dies_and_the_rerun_writes_the_same_bytes(tmp_path):
    code_on_ranks(1, tmp_path / "ref", FT)
    run = tmp_path / "run"
    with pytest.raises(ProcessException):  # rank 1 exits hard in block 21's search; rank 0 is stopped with it
        code_on_ranks(2, run, FT, die=(1, 21))
    assert not (run / "model.mrc").exists()
    saved = torch.load(run / "coding_state.pt", weights_only=False)["next_block"]
    assert 0 < saved <= 20  # rounds before the failure were kept (every round saved: checkpoint_seconds 0)
    code_on_ranks(2, run, FT)
    assert (run / "model.mrc").read_bytes() == (tmp_path / "ref" / "model.mrc").read_bytes()
