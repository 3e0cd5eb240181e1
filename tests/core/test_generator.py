"""The portable candidate generator: golden values, chunking, statistics, devices."""
import pytest
import torch
from scipy import stats

from nncompress.core import generator as G

KEY = G.derive_key(0, G.STREAM_CANDIDATES, 0)


def test_golden_words_and_normals():
    # Pinned: a change here breaks every file ever written.
    assert KEY == 568341979
    assert G.mix32(1) == 824515495 and G.mix32(0xFFFFFFFF) == 539527247
    assert G.uint32(KEY, torch.arange(4)).tolist() == [3939549663, 2159271527, 253749206, 936348534]
    expected = [-0.8790722489356995, -0.5138514041900635, 0.6472159028053284, -0.9315662980079651,
                -0.5660567879676819]
    assert G.canonical_normals(KEY, 0, 5).tolist() == expected
    assert G.canonical_normals(KEY, 123456, 5).tolist() == [
        -0.39429259300231934, 0.24686914682388306, 0.4305330216884613, -0.7924581170082092,
        0.3384857475757599]
    assert G.permutation(7, 10).tolist() == [8, 0, 1, 3, 2, 6, 7, 5, 4, 9]


def test_golden_keys_uniforms_layouts_and_hash_maps():
    """Pinned like the words above: the integer streams every file depends on (key derivation,
    uniforms, the block layout of model.mrc, the hashing trick's index and sign maps) and a batch
    of the decoder's normals. Integer work (and float64 rounded once to float32): the same bits on
    every machine and torch build."""
    import hashlib

    from nncompress.core.blocks import BlockPartition
    from nncompress.layers.hashed import hash_map

    assert G.derive_keys(7, G.STREAM_CANDIDATES, last=torch.arange(3)).tolist() == [1162078949, 1142879794,
                                                                                   3981896602]
    assert [G.derive_key(7, G.STREAM_SELECTION, b) for b in range(3)] == [1579287207, 2626872645, 3766351118]
    assert G.derive_key(0, G.STREAM_HASH, 2, 1) == 2819483592
    assert G.derive_key(2**40 + 5, G.STREAM_PERMUTATION) == 1619371691  # seeds are taken mod 2**32
    # u = ((h >> 8) + 1/2) 2^-24: the closed form at both ends of the word range
    assert G.to_uniform(torch.tensor([0, 255, 256, G.MASK32]), torch.float64).tolist() == [
        2**-25, 2**-25, 3 * 2**-25, 1 - 2**-25]
    part = BlockPartition(10, 4, 3)
    assert part.slots.tolist() == [[4, 5, 7, 0], [3, 1, 2, 9], [8, 6, 10, 10]]  # 10 = padding
    assert part.block_of.tolist() == [0, 1, 1, 1, 0, 0, 2, 0, 2, 1]
    index, sign, n_real = hash_map(12, 5, 5, 1)
    assert n_real == 3 and index.tolist() == [2, 1, 2, 0, 0, 1, 2, 2, 0, 0, 1, 1]
    assert sign.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0]
    keys = G.derive_keys(3, G.STREAM_CANDIDATES, last=torch.arange(200))
    rows = G.canonical_normals_rows(keys, G.uint32(99, torch.arange(200)), 7)
    assert rows[199].tolist() == [-0.29168781638145447, 0.6329554915428162, -0.9048702716827393,
                                  -0.024698132649064064, -0.00964747928082943, 0.45665785670280457,
                                  1.7854399681091309]
    digest = hashlib.sha256(rows.numpy().astype("<f4").tobytes()).hexdigest()
    assert digest == "8db2c1d3e0d211b4237367f5af4501495f46c64b51179d0fa824701c7e7b30e4"


def test_python_int_and_tensor_mixing_agree():
    xs = [0, 1, 12345, 2**31 + 7, 2**32 - 1]
    assert G.mix32(torch.tensor(xs)).tolist() == [G.mix32(x) for x in xs]


@pytest.mark.parametrize("split", [1, 7, 300, 999])
def test_independent_of_chunking(split):
    whole = G.normals(KEY, 0, 1000, 7)
    parts = torch.cat([G.normals(KEY, 0, split, 7), G.normals(KEY, split, 1000 - split, 7)])
    assert torch.equal(whole, parts)
    g = G.gumbels(KEY, 0, 1000)
    assert torch.equal(g, torch.cat([G.gumbels(KEY, 0, split), G.gumbels(KEY, split, 1000 - split)]))


def test_canonical_matches_fast_path_closely():
    fast = G.normals(KEY, 500, 1, 9)[0]
    assert torch.allclose(fast, G.canonical_normals(KEY, 500, 9), atol=2e-6)


def test_normals_are_standard_normal_and_uncorrelated():
    z = G.normals(KEY, 0, 20000, 16).double()
    assert abs(z.mean().item()) < 0.01 and abs(z.var().item() - 1) < 0.01
    assert stats.kstest(z.flatten().numpy(), "norm").pvalue > 1e-3
    corr = torch.corrcoef(z.T) - torch.eye(16)
    assert corr.abs().max() < 0.04
    assert abs(torch.corrcoef(torch.stack([z[:-1].flatten(), z[1:].flatten()]))[0, 1]) < 0.01


def test_streams_differ():
    a = G.normals(G.derive_key(0, G.STREAM_CANDIDATES, 0), 0, 100, 4)
    b = G.normals(G.derive_key(0, G.STREAM_CANDIDATES, 1), 0, 100, 4)
    c = G.normals(G.derive_key(1, G.STREAM_CANDIDATES, 0), 0, 100, 4)
    assert not torch.equal(a, b) and not torch.equal(a, c)


def test_permutation_is_a_permutation():
    p = G.permutation(3, 5000)
    assert torch.equal(torch.sort(p).values, torch.arange(5000))
    assert torch.equal(p, G.permutation(3, 5000))


@pytest.mark.gpu
def test_identical_on_gpu():
    cpu = G.uint32(KEY, torch.arange(10000))
    gpu = G.uint32(KEY, torch.arange(10000, device="cuda")).cpu()
    assert torch.equal(cpu, gpu)
    assert torch.allclose(G.normals(KEY, 0, 1000, 5), G.normals(KEY, 0, 1000, 5, device="cuda").cpu(), atol=1e-5)


@pytest.mark.parametrize("dim", [1, 2, 7, 30, 31])
def test_canonical_normals_rows_equal_one_candidate_at_a_time(dim):
    """The decoder's batched rows are bit for bit the values of one candidate at a time."""
    gen = torch.Generator().manual_seed(dim)
    blocks = torch.arange(300, dtype=torch.int64)
    ks = torch.randint(0, 2**32, (300,), generator=gen, dtype=torch.int64)
    keys = G.derive_keys(7, G.STREAM_CANDIDATES, last=blocks)
    assert [int(k) for k in keys[:5]] == [G.derive_key(7, G.STREAM_CANDIDATES, b) for b in range(5)]
    rows = G.canonical_normals_rows(keys, ks, dim)
    one = torch.stack([G.canonical_normals(int(keys[i]), int(ks[i]), dim) for i in range(300)])
    assert torch.equal(rows.view(torch.int32), one.view(torch.int32))
