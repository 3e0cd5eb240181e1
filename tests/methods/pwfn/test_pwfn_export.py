"""The fixed network as a codebook file: codebooks on known tensors, the exact round trip through the
codec, the reported unique values and entropy against the decoded weights, and the entropy ratio."""
import math

import pytest
import torch

from nncompress.coding.codebook import decode, encode
from nncompress.methods.pwfn.export import codebook_of, fixed_network, to_codebook
from nncompress.methods.pwfn.fixing import fix_layers
from nncompress.methods.pwfn.metrics import entropy_from_counts, unique_values, weight_entropy_bits
from nncompress.methods.pwfn.module import PwfnModule
from nncompress.methods.pwfn.settings import PwfnSettings
from nncompress.models.spec import ArchSpec


def test_codebook_puts_zero_first_and_indexes_every_value():
    t = torch.tensor([[0.5, -0.25, 0.0], [0.5, -0.0, 0.125]])
    book, idx = codebook_of(t)
    assert book.tolist() == [0.0, -0.25, 0.125, 0.5]  # zero at index 0, then ascending
    assert idx.tolist() == [[3, 1, 0], [3, 0, 2]]  # -0.0 shares the zero's index
    assert torch.equal(book[idx], t + 0.0)
    book, idx = codebook_of(torch.tensor([0.75, -0.5, 0.75]))  # no zero: plain ascending
    assert book.tolist() == [-0.5, 0.75] and idx.tolist() == [1, 0, 1]


def _fixed_module(spec: ArchSpec, seed: int = 0) -> PwfnModule:
    torch.manual_seed(seed)
    module = PwfnModule(spec.build(), PwfnSettings())
    fix_layers(module.layers(), 1.0)
    return module


def test_codebook_file_decodes_to_the_fixed_network_exactly():
    # (ResNet-18 with its raw BatchNorm state: the slow chain test, where after_decode checks every entry)
    spec = ArchSpec("lenet300_100", {}, 1, 10, 28)
    module = _fixed_module(spec)
    n_params = sum(p.numel() for p in spec.build().parameters())
    payload, plain, stats = to_codebook(spec, module.net, n_params)
    raw, _ = encode(payload)
    decoded = decode(raw).build()
    ours, theirs = plain.state_dict(), decoded.state_dict()
    assert list(ours) == list(theirs)
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    coded = [theirs[name] for name in payload.codes]
    assert stats["unique_values"] == unique_values(coded)
    assert stats["entropy_bits"] == weight_entropy_bits(coded)
    n_coded = sum(t.numel() for t in coded)
    assert n_coded == module.n_weights()
    h = stats["entropy_bits"]
    assert stats["ratio_entropy"] == pytest.approx(32 * n_params / (h * n_coded + 32 * (n_params - n_coded)))
    # the plain network computes what the Bayesian one does at its means
    x = torch.randn(4, spec.in_channels, spec.image_size, spec.image_size)
    module.net.eval()
    assert torch.allclose(plain(x), module.net(x), atol=1e-5)


def test_fixed_network_holds_the_centres_and_the_entropy_is_the_closed_form():
    spec = ArchSpec("lenet300_100", {}, 1, 10, 28)
    module = _fixed_module(spec, seed=1)
    plain = fixed_network(spec, module.net)
    for name, layer in module.named_layers():
        assert torch.equal(plain.get_submodule(name).weight, layer.mean("weight"))
        assert bool(layer.fixed("weight").all())
    values = torch.cat([p.detach().flatten() for p in plain.parameters()])
    _, counts = torch.unique(values, return_counts=True)
    assert weight_entropy_bits([values]) == pytest.approx(entropy_from_counts(counts.tolist()), abs=1e-12)
    assert math.isfinite(weight_entropy_bits([values]))
