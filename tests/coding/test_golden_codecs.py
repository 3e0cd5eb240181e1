"""Golden files of the three codecs, portable across machines: fixed tensors built here from integer
formulas (the portable generator's words and dyadic fractions; no training, no torch RNG) encode to
the committed bytes in tests/expected/, and the committed files decode to those tensors.

What makes each side portable:
- csr_huffman (.nnc) and codebook (.cbk): encoding and decoding are integer work (CSR gaps,
  Huffman codes, varints) plus float32 values copied bit for bit; nothing is computed in floats.
- mrc (.mrc): the file holds one index per block. The index is chosen by `coding.search`: pass 1
  (float32, any kernel) only shortlists candidates under a proven bound; pass 2 decides in float64
  on the canonical values, where the only libm-dependent steps are log, cos and sin (not correctly
  rounded: an ulp may differ between CPUs). Decoding rebuilds rho * z with z computed in float64
  and rounded once to float32. Both sides are therefore portable unless a block's two best
  candidates tie within a few float64 ulps, or a normal lies within a few float64 ulps of a float32
  rounding boundary; `test_mrc_golden_data_is_far_from_ties` checks that neither happens for these
  blocks, so these bytes and weights are the same on any CPU.

The files are written by `python tests/coding/test_golden_codecs.py` (from the repo root, with
src on the path). Only do that when a format changes on purpose: every file written before no
longer decodes the same, and the decoded-weights digests below must then change too.
"""
from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest
import torch

from nncompress.coding import bitpack
from nncompress.coding import codebook as cbk
from nncompress.coding.codec import get_codec, read_file, write_file
from nncompress.coding.container import read_container
from nncompress.coding.csr_huffman import CompressedNet
from nncompress.coding.mrc import MRCPayload, materialise
from nncompress.coding.search import Coefficients, candidate_key, exact_scores, search_block, selection_key
from nncompress.core import generator as G
from nncompress.core.blocks import BlockPartition
from nncompress.core.evaluation import weights_sha256
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

EXPECTED = Path(__file__).resolve().parents[1] / "expected"
STREAM = 1000  # the words below use streams of their own, apart from the codecs' streams


def words(tag: int, n: int) -> torch.Tensor:
    """n portable 32-bit words (int64) of stream `tag`: pure integer hashing."""
    return G.uint32(G.derive_key(2024, STREAM, tag), torch.arange(n, dtype=torch.int64))


# -- mrc: an MLP with every layer hashed (1,219 coded variables), 51 blocks of 24, 10 bits each --
MRC_SPEC = ArchSpec("mlp", {"fc1": 16, "fc2": 256, "fc3": 4}, in_channels=1, num_classes=3, image_size=4,
                    hash_seed=5)
MRC_SEED, MRC_BLOCK, MRC_BITS = 11, 24, 10
MRC_RHO = torch.tensor([2.0**-4, 2.0**-5, 2.0**-3])  # per layer: the frozen coding scales


@functools.cache
def mrc_posterior():
    """(mu, sigma, rho) per coded variable: dyadic multiples of the layer's rho (exact in float32),
    sigma / rho in [0.5, 0.625] and |mu| / rho <= 0.25, about 10 bits of KL per block of 24."""
    layer_of = CodedNetwork(MRC_SPEC).layer_of
    i = torch.arange(len(layer_of))
    rho = MRC_RHO[layer_of]
    mu = rho * (((i * 13) % 9) - 4).float() / 16
    sigma = rho * (8 + i % 3).float() / 16
    return mu, sigma, rho


@functools.cache
def mrc_indices() -> tuple:
    """The index of each block, as the MRC encoder's search picks it for these posteriors (no
    fine-tuning between blocks: nothing is trained)."""
    mu, sigma, rho = mrc_posterior()
    part = BlockPartition(len(mu), MRC_BLOCK, MRC_SEED)
    indices = []
    for b in range(part.n_blocks):
        m = part.members(b)
        indices.append(search_block(MRC_SEED, b, mu[m], sigma[m], rho[m], 1 << MRC_BITS, pad_to=MRC_BLOCK).index)
    return tuple(indices)


def mrc_payload() -> MRCPayload:
    return MRCPayload(MRC_SPEC, MRC_SEED, MRC_BLOCK, MRC_BITS, MRC_RHO.clone(), list(mrc_indices()))


def mrc_weights(indices) -> torch.Tensor:
    """The coded vector a decoder must rebuild: each block's members get rho * z of their index."""
    _, _, rho = mrc_posterior()
    part = BlockPartition(len(rho), MRC_BLOCK, MRC_SEED)
    out = torch.zeros(len(rho))
    for b, k in enumerate(indices):
        m = part.members(b)
        out[m] = materialise(MRC_SEED, b, k, rho[m])
    return out


# -- csr_huffman: LeNet-300-100 pruned to widths (12, 8), 8 codebook values, sparse fc1 --
NNC_SPEC = ArchSpec("lenet300_100", {}, 1, 10, 28, widths=(12, 8))
NNC_CODEBOOK = torch.tensor([0.0, -0.25, -0.125, -0.0625, 0.0625, 0.125, 0.25, 0.5])


def nnc_net() -> CompressedNet:
    shapes = [(12, 784), (8, 12), (10, 8)]
    density = [4, 50, 90]  # percent of nonzero weights per layer: fc1's gaps need filler entries
    indices, biases = [], []
    for layer, (shape, pct) in enumerate(zip(shapes, density)):
        w = words(layer, math.prod(shape))
        skewed = torch.tensor([1, 1, 1, 1, 2, 2, 3, 4, 5, 5, 5, 6, 6, 7, 7, 7])[w % 16]  # for Huffman
        indices.append((skewed * ((w >> 8) % 100 < pct)).reshape(shape))
        biases.append(((words(10 + layer, shape[0]) % 64) - 32).float() / 256)
    return CompressedNet(NNC_SPEC, NNC_CODEBOOK.clone(), indices, biases, index_bits=5)


# -- codebook: LeNet-300-100 on 2 x 2 inputs, 3 classes; one tensor per way of storing it --
CBK_SPEC = ArchSpec("lenet300_100", {}, 1, 3, 2)


def cbk_net() -> cbk.CodebookNet:
    """fc1 dense (4 values, no zeros: Huffman-coded indices), fc2 sparse (3 % kept, 4 values: CSR),
    fc3 pruned and unquantised (half kept, a value per kept weight: mask CSR + raw floats), biases raw."""
    state = {name: torch.zeros(t.shape) for name, t in CBK_SPEC.validate().state_dict().items()}
    for j, name in enumerate(n for n in state if n.endswith("bias")):
        state[name] = ((words(20 + j, state[name].numel()) % 128) - 64).float() / 512
    w1, w2, w3 = words(30, 1200), words(31, 30000), words(32, 300)
    fine = torch.cat([torch.zeros(1), (torch.arange(1, 301) - 150.5) / 1024])  # 0, then 300 distinct values
    codes = {
        "fc1.weight": (torch.tensor([0.0, -0.25, -0.125, 0.125, 0.25]), (1 + w1 % 4).reshape(300, 4)),
        "fc2.weight": (torch.tensor([0.0, -0.0625, 0.0625, 0.125]),
                       ((1 + w2 % 3) * ((w2 >> 8) % 100 < 3)).reshape(100, 300)),
        "fc3.weight": (fine, (torch.arange(1, 301) * ((w3 >> 8) % 2 == 0)).reshape(3, 100)),
    }
    return cbk.CodebookNet(CBK_SPEC, state, codes)


def expected_state(net) -> dict:
    """Every state-dict entry as the decoder must rebuild it: codebook[indices], or the raw tensor."""
    return {name: net.codes[name][0][net.codes[name][1]] if name in net.codes else t for name, t in net.state.items()}


# file -> (codec, export builder, the encoded network's parameters (the .nnc's before pruning),
# the decoded network's parameters, sha256 of the decoded weights as little-endian float32)
CASES = {
    "mlp_hashed.mrc": ("mrc", mrc_payload, 70_915, 70_915,
                       "d75f23444cf1f7e7b030d60f619fd2e5d4984597b829da6c832b167605a1e0c8"),
    "lenet300_100_pruned.nnc": ("csr_huffman", nnc_net, 266_610, 9_614,
                                "215316221669dda23844e24ffa4bea01ba1c41acd6bd76eba3243884dfcfed58"),
    "lenet300_100_2x2.cbk": ("codebook", cbk_net, 31_903, 31_903,
                             "de1d64a80c0fb04c3290410d0747317037c514e0ea3958abe68b36a05f1ab61c"),
}


def encode_to(path: Path, name: str) -> dict:
    codec, build, n_params, _, _ = CASES[name]
    nbytes, accounting = write_file(path, get_codec(codec), build(), n_params)
    assert nbytes == path.stat().st_size
    return accounting


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_fixed_tensors_writes_the_golden_bytes(name, tmp_path):
    encode_to(tmp_path / name, name)
    assert (tmp_path / name).read_bytes() == (EXPECTED / name).read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_file_decodes_to_the_pinned_weights(name):
    codec_name, build, _, n_params, digest = CASES[name]
    codec, decoded = read_file(EXPECTED / name)
    assert codec.name == codec_name and decoded.n_params == n_params
    assert decoded.weights_sha256 == digest
    source = build()
    if codec_name == "mrc":
        assert decoded.spec == MRC_SPEC
        assert torch.equal(decoded.weights, mrc_weights(source.indices))
        return
    state = decoded.network.state_dict()
    if codec_name == "csr_huffman":
        assert decoded.spec == NNC_SPEC
        for layer, idx, bias in zip(decoded.network.layer_names, source.indices, source.biases):
            assert torch.equal(state[f"{layer}.weight"], NNC_CODEBOOK[idx])
            assert torch.equal(state[f"{layer}.bias"], bias)
    else:
        assert decoded.spec == CBK_SPEC
        want = expected_state(source)
        assert list(state) == list(want)
        for key, value in want.items():
            assert torch.equal(state[key], value), key


def test_golden_files_are_small_and_exercise_each_layout():
    """A few hundred bytes to a few KB each; the .nnc needs filler entries, the .cbk writes all
    three ways of storing a coded tensor, and each payload parses back to its source exactly."""
    sizes = {name: (EXPECTED / name).stat().st_size for name in CASES}
    assert all(64 < s < 8000 for s in sizes.values()), sizes
    _, raw = read_container(EXPECTED / "lenet300_100_pruned.nnc")
    back, source = CompressedNet.from_bytes(raw), nnc_net()
    assert torch.equal(back.codebook, source.codebook) and back.index_bits == 5
    assert all(torch.equal(a, b) for a, b in zip(back.indices, source.indices))
    from nncompress.coding import csr

    assert csr.to_relative_csr(source.indices[0], 5).n_fillers > 0
    source = cbk_net()
    tags = {name: cbk._encode_coded(*code)[0] for name, code in source.codes.items()}
    assert tags == {"fc1.weight": cbk.DENSE, "fc2.weight": cbk.SPARSE, "fc3.weight": cbk.SPARSE_RAW}
    _, raw = read_container(EXPECTED / "lenet300_100_2x2.cbk")
    back = cbk.decode(raw)  # coded tensors come back as codebook + indices, the sparse raw one as floats
    assert sorted(back.codes) == ["fc1.weight", "fc2.weight"]
    for name in back.codes:
        assert torch.equal(back.codes[name][0], source.codes[name][0])
        assert torch.equal(back.codes[name][1], source.codes[name][1])
    _, raw = read_container(EXPECTED / "mlp_hashed.mrc")
    parsed = MRCPayload.from_bytes(raw)
    assert parsed.indices == list(mrc_indices()) and torch.equal(parsed.rho, MRC_RHO)


def test_accounting_of_the_golden_files():
    """The paper's ratios from each codec's own formula, against the bytes of the committed files."""
    mrc = get_codec("mrc").encode(mrc_payload(), 70_915)[1]
    n_blocks = math.ceil(MRC_SPEC.n_coded() / MRC_BLOCK)
    assert mrc["n_blocks"] == n_blocks == 51
    assert mrc["ratio_paper"] == 32 * 70_915 / (n_blocks * MRC_BITS)
    _, raw = read_container(EXPECTED / "mlp_hashed.mrc")
    index_section = bitpack.pack(MRCPayload.from_bytes(raw).indices, MRC_BITS)
    assert len(index_section) == 64 and raw.endswith(index_section)  # 510 bits: the paper counts these
    payload, nnc = get_codec("csr_huffman").encode(nnc_net(), 266_610)
    _, raw = read_container(EXPECTED / "lenet300_100_pruned.nnc")
    assert payload == raw
    parts = ("header_bits", "codebook_bits", "bias_bits", "values_bits", "index_bits", "row_ptr_bits",
             "csr_header_bits")
    assert sum(nnc[k] for k in parts) == 8 * len(raw)
    counted = sum(nnc[k] for k in ("values_bits", "index_bits", "row_ptr_bits", "codebook_bits", "bias_bits"))
    assert nnc["ratio_paper"] == 32 * 266_610 / counted
    payload, bits = get_codec("codebook").encode(cbk_net(), 31_903)
    _, raw = read_container(EXPECTED / "lenet300_100_2x2.cbk")
    assert payload == raw and bits["header_bits"] + bits["raw_bits"] + bits["coded_bits"] == 8 * len(raw)
    assert bits["sparse_tensors"] == 2 and bits["dense_tensors"] == 1


def test_mrc_golden_data_is_far_from_ties():
    """Why the .mrc golden is portable (module docstring): in every block the chosen index beats the
    runner-up by far more than float64 rounding, and every decoded normal lies far from a float32
    rounding boundary, so a libm whose log / cos / sin differ by an ulp selects and decodes the same."""
    mu, sigma, rho = mrc_posterior()
    part = BlockPartition(len(mu), MRC_BLOCK, MRC_SEED)
    ks = torch.arange(1 << MRC_BITS)
    for b, k in enumerate(mrc_indices()):
        m = part.members(b)
        score, _ = exact_scores(candidate_key(MRC_SEED, b), selection_key(MRC_SEED, b), ks,
                                Coefficients.of(mu[m], sigma[m], rho[m]), sample=True)
        top2 = torch.topk(score, 2)
        assert int(top2.indices[0]) == k  # the search found the maximiser of the exact scores
        assert float(top2.values[0] - top2.values[1]) > 1e-9 * max(1.0, abs(float(top2.values[0]))), b
        z64 = G.normals(candidate_key(MRC_SEED, b), k, 1, len(m), dtype=torch.float64)[0]
        z32 = z64.float()
        assert torch.equal(z32, G.canonical_normals(candidate_key(MRC_SEED, b), k, len(m)))
        half_ulp = (torch.nextafter(z32.abs(), torch.tensor(math.inf)) - z32.abs()).double() / 2
        margin = half_ulp - (z64 - z32.double()).abs()
        assert bool(torch.all(margin > 2.0**-40 * z64.abs())), b


def test_decoded_weights_digest_is_float32_little_endian():
    """The digests above are of the decoded vector as little-endian float32 (core.evaluation)."""
    import hashlib

    v = torch.tensor([1.0, -2.0, 0.5])
    assert weights_sha256(v) == hashlib.sha256(bytes.fromhex("0000803f000000c00000003f")).hexdigest()


if __name__ == "__main__":  # rewrite the golden files (module docstring says when)
    for file in sorted(CASES):
        encode_to(EXPECTED / file, file)
        print(f"{EXPECTED / file}: {(EXPECTED / file).stat().st_size} bytes, decoded weights "
              f"{read_file(EXPECTED / file)[1].weights_sha256}", file=sys.stderr)
