"""Structured pruning is exact, and the csr_huffman file decodes to the same network."""
import torch

from nncompress.coding.csr_huffman import CompressedNet
from nncompress.methods.ibc.export import build_compressed
from nncompress.methods.ibc.family import build_module
from nncompress.models.lenet import LeNet5Caffe, LeNet300100
from nncompress.models.spec import ArchSpec
from nncompress.pruning.structured import remove_empty_units
from nncompress.quantization.cluster import assign, kmeans_1d


def _sparse_lenet5(seed=0):
    torch.manual_seed(seed)
    net = LeNet5Caffe()
    with torch.no_grad():
        for m in (net.conv1, net.conv2, net.fc1, net.fc2):
            m.weight.mul_(torch.rand_like(m.weight) < 0.3)
        net.conv1.weight[3] = 0
        net.conv1.bias[3] = 0  # dead channel: conv2 reads zeros from it
        net.conv2.weight[:, 7] = 0  # conv1 channel 7 unused
        net.fc1.weight[:, 16 * 9 : 16 * 10] = 0  # conv2 channel 9 unused by fc1
        net.fc1.weight[11] = 0
        net.fc1.bias[11] = 0
        net.fc2.weight[:, 40] = 0
    return net


def test_removing_empty_units_is_exact():
    net = _sparse_lenet5()
    layers = [net.conv1, net.conv2, net.fc1, net.fc2]
    w, b, kept = remove_empty_units([m.weight.detach() for m in layers], [m.bias.detach() for m in layers])
    assert 3 not in kept[0].tolist() and 7 not in kept[0].tolist()
    assert 9 not in kept[1].tolist() and 11 not in kept[2].tolist() and 40 not in kept[2].tolist()
    small = LeNet5Caffe(widths=(w[0].shape[0], w[1].shape[0], w[2].shape[0]))
    small.load_state_dict({f"{n}.{k}": t for n, ww, bb in zip(small.layer_names, w, b)
                           for k, t in (("weight", ww), ("bias", bb))})
    # Only exact zeros leave the sums; what remains is the float summation order (~1e-16 in double).
    x = torch.randn(16, 1, 28, 28, dtype=torch.float64)
    assert torch.allclose(small.double()(x), net.double()(x), rtol=0, atol=1e-13)


def test_a_network_quantised_to_nothing_still_round_trips():
    """All weights at the zero component (an SWS mixture before it has learned): one zero unit
    per layer stays, and the decoded network outputs its last bias."""
    torch.manual_seed(0)
    net = LeNet5Caffe()
    indices = [torch.zeros_like(m.weight, dtype=torch.int64) for m in (net.conv1, net.conv2, net.fc1, net.fc2)]
    biases = [m.bias.detach() for m in (net.conv1, net.conv2, net.fc1, net.fc2)]
    comp = build_compressed(ArchSpec("lenet5"), indices, biases, torch.tensor([0.0, 0.5]), 8)
    assert comp.widths() == [1, 1, 1, 10]
    decoded = CompressedNet.from_bytes(comp.to_bytes()[0]).build()
    out = decoded(torch.randn(3, 1, 28, 28))
    assert torch.equal(out, net.fc2.bias.detach().expand(3, 10))


def test_kmeans_and_assign():
    v = torch.cat([torch.full((50,), -1.0), torch.full((30,), 0.5), torch.full((20,), 2.0)])
    centres = kmeans_1d(v + 0.01 * torch.randn(100), 3)
    assert torch.allclose(centres, torch.tensor([-1.0, 0.5, 2.0]), atol=0.01)
    assert assign(torch.tensor([0.4, -0.9, 3.0]), centres).tolist() == [1, 0, 2]


def test_kmeans_and_assign_equal_brute_force_lloyd():
    """The binary-search assignment gives what comparing every value with every centre gives."""
    g = torch.Generator().manual_seed(0)
    v = torch.cat([torch.randn(3000, generator=g) * 0.02, torch.randn(200, generator=g) * 0.2])
    x = v.double()
    centres = torch.linspace(float(x.min()), float(x.max()), 16, dtype=torch.float64)
    for _ in range(100):
        idx = torch.argmin((x[:, None] - centres[None]).abs(), dim=1)
        counts = torch.bincount(idx, minlength=16)
        sums = torch.zeros(16, dtype=torch.float64).index_add(0, idx, x)
        new = torch.where(counts > 0, sums / counts.clamp_min(1), centres).sort().values
        if torch.equal(new, centres):
            break
        centres = new
    assert torch.equal(kmeans_1d(v, 16), centres.float())
    codebook = torch.randn(9, generator=g)  # unsorted
    assert torch.equal(assign(v, codebook), torch.argmin((v[:, None] - codebook[None]).abs(), dim=1))


def test_file_round_trip_from_a_vd_sws_module():
    torch.manual_seed(0)
    module = build_module(LeNet300100(), 100, ["vd", "mixture"], {})
    with torch.no_grad():  # make most weights noise so that they are dropped
        for m in module.net.modules():
            if hasattr(m, "log_sigma2"):
                m.log_sigma2.copy_(torch.where(torch.rand_like(m.theta) < 0.9, torch.tensor(2.0), m.log_sigma2))
    indices, biases, codebook = module.quantised()
    comp = build_compressed(ArchSpec("lenet300_100"), indices, biases, codebook, index_bits=5)
    raw, bits = comp.to_bytes()
    # the parts add up to the payload; values_header_bits (the Huffman tables) is a share of values_bits
    assert 8 * len(raw) == sum(v for k, v in bits.items() if k != "values_header_bits")
    assert 0 < bits["values_header_bits"] < bits["values_bits"]
    back = CompressedNet.from_bytes(raw)
    assert back.widths() == comp.widths() and torch.equal(back.codebook, comp.codebook)
    x = torch.randn(8, 1, 28, 28)
    assert torch.equal(back.build()(x), comp.build()(x))
    # The decoded network computes what the quantised full-size network computes.
    full = LeNet300100()
    full.load_state_dict({f"{n}.{k}": t for n, i, bb in zip(full.layer_names, indices, biases)
                          for k, t in (("weight", codebook[i]), ("bias", bb))})
    assert torch.allclose(back.build()(x), full(x), atol=1e-5)
