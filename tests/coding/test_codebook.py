"""The codebook file: any architecture's state round-trips exactly, sparse tensors go to CSR,
BatchNorm statistics and counters survive, and damage is refused."""
import pytest
import torch

from nncompress.coding.codebook import DENSE, SPARSE, CodebookNet, decode, encode, index_width
from nncompress.coding.codec import get_codec
from nncompress.models.spec import ArchSpec


def _quantised(spec: ArchSpec, keep: float, k: int = 8, seed: int = 0) -> CodebookNet:
    """Every weight tensor pruned to `keep` and quantised to k values (0.0 first)."""
    torch.manual_seed(seed)
    net = spec.build()
    codes = {}
    for name, p in net.named_parameters():
        if name.endswith("weight") and p.dim() > 1:
            codebook = torch.cat([torch.zeros(1), torch.linspace(-0.1, 0.1, k - 1)])
            idx = torch.randint(1, k, p.shape) * (torch.rand(p.shape) < keep)
            codes[name] = (codebook, idx)
    return CodebookNet.from_network(spec, net, codes)


@pytest.mark.parametrize("arch,keep", [("lenet300_100", 0.05), ("lenet300_100", 1.0), ("cifar_cnn", 0.3)])
def test_round_trip_is_exact(arch, keep):
    spec = ArchSpec(arch, {}, 3 if arch == "cifar_cnn" else 1, 10, 32 if arch == "cifar_cnn" else 28)
    net = _quantised(spec, keep)
    if arch == "cifar_cnn":  # BatchNorm statistics that differ from their defaults
        for name in net.state:
            if "running" in name:
                net.state[name] = torch.rand_like(net.state[name])
            if "num_batches_tracked" in name:
                net.state[name] = torch.tensor(1234)
    payload, bits = encode(net)
    assert bits["header_bits"] + bits["raw_bits"] + bits["coded_bits"] == 8 * len(payload)
    back = decode(payload)
    assert back.spec == spec and list(back.state) == list(net.state)
    for name, (codebook, idx) in net.codes.items():
        assert torch.equal(back.codes[name][0], codebook) and torch.equal(back.codes[name][1], idx)
    for name, t in net.state.items():
        if name not in net.codes:
            assert torch.equal(back.state[name], t), name
    x = torch.randn(2, *((3, 32, 32) if arch == "cifar_cnn" else (1, 28, 28)))
    assert torch.equal(back.build()(x), net.build()(x))
    # A very sparse network is stored as CSR, a dense one as Huffman-coded indices.
    if keep <= 0.05:
        assert bits["sparse_tensors"] == len(net.codes) and bits["dense_tensors"] == 0
    elif keep == 1.0:
        assert bits["dense_tensors"] == len(net.codes)


def test_sparse_beats_dense_and_the_codec_decodes():
    spec = ArchSpec("lenet300_100")
    sparse, dense = encode(_quantised(spec, 0.05))[0], encode(_quantised(spec, 1.0))[0]
    assert len(sparse) < 0.3 * len(dense)
    decoded = get_codec("codebook").decode(sparse)
    assert decoded.n_params == 266610


def test_index_width_minimises_the_csr():
    from nncompress.coding import csr

    rows = torch.zeros(4, 300, dtype=torch.int64)
    rows[:, ::37] = 1  # gaps of 36: 6 bits carry them without fillers
    sizes = {b: len(csr.serialize(csr.to_relative_csr(rows, b))) for b in range(1, 9)}
    assert sizes[index_width(rows)] == min(sizes.values())
    assert index_width(torch.zeros(2, 5, dtype=torch.int64)) == 1


def test_damage_is_refused():
    payload, _ = encode(_quantised(ArchSpec("lenet300_100"), 0.05))
    with pytest.raises(ValueError, match="trailing"):
        decode(payload + b"\x00")
    with pytest.raises((ValueError, IndexError)):
        decode(payload[: len(payload) // 2])
    net = _quantised(ArchSpec("lenet300_100"), 1.0)
    with pytest.raises(ValueError, match="indices of shape"):
        CodebookNet.from_network(net.spec, net.build(), {"fc1.weight": (torch.zeros(2), torch.zeros(3).long())})
    assert DENSE != SPARSE


def test_pruned_unquantised_weights_cost_their_floats_plus_positions():
    """Pruning keeps the original floats: a codebook of every kept value would cost more than the
    values, so such tensors go as sparse raw (the nonzero mask's CSR, then the kept float32s)."""
    torch.manual_seed(0)
    spec = ArchSpec("lenet300_100")
    net = spec.build()
    codes = {}
    for name, p in net.named_parameters():
        if name.endswith("weight"):
            kept = p.detach() * (torch.rand(p.shape) < 0.1)
            codebook, idx = torch.unique(kept, return_inverse=True)
            zero = int((codebook == 0).nonzero())
            order = torch.cat([torch.tensor([zero]), torch.tensor([i for i in range(len(codebook)) if i != zero])])
            codes[name] = (codebook[order], torch.argsort(order)[idx])  # the zero first
    packed = CodebookNet.from_network(spec, net, codes)
    payload, bits = encode(packed)
    n_kept = sum(int((i != 0).sum()) for _, i in codes.values())
    assert len(codes["fc1.weight"][0]) > 4096 and bits["sparse_tensors"] == 3
    # 32 bits per kept weight plus a few bits of position each, far below the dense 266,200 floats
    assert 32 * n_kept < bits["coded_bits"] < 40 * n_kept
    back = decode(payload)
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(back.build()(x), packed.build()(x))
