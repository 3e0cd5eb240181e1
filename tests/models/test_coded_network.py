"""Architectures, the hashing trick and the coded-vector view."""
import pytest
import torch

from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

PAPER = ArchSpec("lenet5", {"conv2": 2, "fc1": 64})


def test_paper_lenet5_counts():
    net = CodedNetwork(PAPER)
    assert net.n_params == 431080
    assert net.n_coded == 24830
    assert net.layer_sizes() == [520, 12550, 6750, 5010]


def test_lenet300_100_counts():
    net = CodedNetwork(ArchSpec("lenet300_100"))
    assert net.n_params == net.n_coded == 266610


def test_hash_map_is_balanced_with_random_signs():
    net = CodedNetwork(PAPER)
    for pid, factor in ((2, 2), (4, 64)):  # conv2.weight, fc1.weight
        idx, sign = getattr(net, f"hidx_{pid}"), getattr(net, f"hsign_{pid}")
        assert torch.equal(torch.bincount(idx), torch.full((idx.numel() // factor,), factor))
        assert set(sign.unique().tolist()) == {-1.0, 1.0}
        assert abs(sign.mean().item()) < 0.03


def test_expand_shares_values_through_the_index():
    net = CodedNetwork(PAPER)
    coded = torch.randn(net.n_coded)
    params = net.expand(coded)
    offset = 520
    real = coded[offset : offset + 12500]
    manual = (real[net.hidx_2] * net.hsign_2).reshape(50, 20, 5, 5)
    assert torch.equal(params["conv2.weight"], manual)
    assert torch.equal(params["conv2.bias"], coded[offset + 12500 : offset + 12550])


def test_forward_matches_the_plain_module():
    net = CodedNetwork(ArchSpec("lenet5"))
    coded = torch.randn(net.n_coded) * 0.05
    x = torch.randn(4, 1, 28, 28)
    plain = net.net
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(coded, plain.parameters())
        assert torch.allclose(net(x, coded), plain(x), atol=1e-6)


def test_bad_hashing_names_the_layers():
    with pytest.raises(ValueError, match="conv2"):
        CodedNetwork(ArchSpec("lenet5", {"conv3": 2}))
    with pytest.raises(ValueError, match="unknown architecture 'vgg99'; choose one of"):
        CodedNetwork(ArchSpec("vgg99"))
