"""The ORC and PFR files (coding/orc.py, coding/pfr.py, coding/expgolomb.py): golden bytes for fixed
tensors, round trips through the container with bit-exact weights, and hostile PFR files refused
in one line by the rule that applies."""
import hashlib
import json
import math
import struct
import zlib
from pathlib import Path

import pytest
import torch

from nncompress.coding import expgolomb, varint
from nncompress.coding.codec import get_codec, read_file, write_file
from nncompress.coding.container import KINDS, MAGIC, VERSION, ContainerError
from nncompress.coding.mrc import MRCPayload, materialise
from nncompress.coding.orc import search_block as orc_search
from nncompress.coding.pfr import PFRPayload
from nncompress.coding.pfr import search_block as pfr_search
from nncompress.core.blocks import BlockPartition
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

GOLDEN = json.loads((Path(__file__).parents[1] / "expected" / "rec_coders.json").read_text())
SPEC = ArchSpec("lenet300_100", {"fc1": 64, "fc2": 64, "fc3": 8}, 1, 10, 8, 3)  # 8 x 8 inputs, hashed: 1,062 coded


def fixed_blocks(block: int = 100):
    """Fixed posteriors of SPEC's coded vector: (network, partition, mu, sigma, rho per variable, rho per layer)."""
    net = CodedNetwork(SPEC)
    g = torch.Generator().manual_seed(0)
    rho_layer = torch.tensor([0.05, 0.08, 0.1, 0.2, 0.3, 0.5])[: net.n_layers]
    rho = rho_layer[net.layer_of]
    mu = torch.randn(net.n_coded, generator=g) * rho * 0.3
    sigma = rho * (0.6 + 0.3 * torch.rand(net.n_coded, generator=g))
    return net, BlockPartition(net.n_coded, block, 7), mu, sigma, rho, rho_layer


def coded(law: str, log2: int = 8):
    net, part, mu, sigma, rho, rho_layer = fixed_blocks()
    search = orc_search if law == "orc" else pfr_search
    indices, values = [], torch.zeros(net.n_coded)
    for b in range(part.n_blocks):
        m = part.members(b)
        k = search(7, b, mu[m], sigma[m], rho[m], 1 << log2).index
        indices.append(k)
        values[m] = materialise(7, b, k, rho[m])
    if law == "orc":
        return MRCPayload(SPEC, 7, 100, log2, rho_layer, indices), values
    return PFRPayload(SPEC, 7, 100, log2, rho_layer, indices), values


@pytest.mark.parametrize("law", ["orc", "pfr"])
def test_golden_bytes_and_bit_exact_round_trip(law, tmp_path):
    payload, values = coded(law)
    codec = get_codec(law)
    path = tmp_path / codec.filename
    nbytes, accounting = write_file(path, codec, payload, 1000)
    data = path.read_bytes()
    golden = GOLDEN[law]
    assert payload.indices == golden["indices"]
    assert hashlib.sha256(data).hexdigest() == golden["sha256"] and nbytes == golden["bytes"]
    got, decoded = read_file(path)
    assert got is codec and torch.equal(decoded.weights, values)
    if law == "pfr":
        assert accounting["index_bits"] == sum(expgolomb.code_length(k, payload.order) for k in payload.indices)
        assert accounting["golomb_order"] == expgolomb.best_order(payload.indices, 8)


def test_exp_golomb_lengths_and_round_trip():
    assert [expgolomb.code_length(v, 0) for v in (0, 1, 2, 3, 6, 7)] == [1, 3, 3, 5, 5, 7]  # Elias gamma of v + 1
    assert [expgolomb.code_length(v, 3) for v in (0, 7, 8, 23, 24)] == [4, 4, 6, 6, 8]
    assert expgolomb.encode([0, 1, 2], 0) == bytes([0b10100110])  # 1 | 010 | 011, one zero of padding
    values = [0, 1, 5, 255, 1000, 3, 2**20 - 1]
    for m in (0, 2, 7, 20):
        raw = expgolomb.encode(values, m)
        assert expgolomb.decode(raw, m, len(values), 2**20 - 1) == values
        assert len(raw) == math.ceil(sum(expgolomb.code_length(v, m) for v in values) / 8)
    assert expgolomb.best_order([1000] * 10, 20) == 10  # 1000 < 2^10: 11 bits at m = 10, 12 at m = 9 or 11


def container(kind: str, payload: bytes) -> bytes:
    body = MAGIC + bytes([VERSION, KINDS[kind]]) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def refused(tmp_path, payload: bytes, match: str, kind: str = "pfr"):
    path = tmp_path / f"hostile.{kind}"
    path.write_bytes(container(kind, payload))
    with pytest.raises(ContainerError, match=match) as info:
        read_file(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def _pfr_bytes(log2=8, order=None, indices=None, section=None, block=100, n_layers=None):
    """A PFR payload of SPEC with its header fields and index section set by hand."""
    p, _ = coded("pfr")
    raw = p.to_bytes()
    head = raw[: len(raw) - len(expgolomb.encode(p.indices, p.order))]
    order = p.order if order is None else order
    indices = p.indices if indices is None else indices
    arch_end = len(head) - 4 * len(p.rho) - len(varint.encode(len(p.rho)))
    for v in (p.order, log2 if False else p.candidates_log2, p.block_size, p.seed):
        arch_end -= len(varint.encode(v))
    fields = b"".join(varint.encode(v) for v in (p.seed, block, log2, order,
                                                 len(p.rho) if n_layers is None else n_layers))
    rho = struct.pack(f"<{len(p.rho)}f", *p.rho.tolist())
    return head[:arch_end] + fields + rho + (expgolomb.encode(indices, order) if section is None else section)


def test_hand_built_pfr_payload_is_the_encoders():
    p, _ = coded("pfr")
    assert _pfr_bytes() == p.to_bytes()


def test_hostile_pfr_files(tmp_path):
    n_blocks = math.ceil(CodedNetwork(SPEC).n_coded / 100)
    p, _ = coded("pfr")
    refused(tmp_path, _pfr_bytes(log2=0), "candidates_log2 0 is outside 1..32")
    refused(tmp_path, _pfr_bytes(log2=33), "candidates_log2 33 is outside 1..32")
    refused(tmp_path, _pfr_bytes(order=9), "order 9 is over candidates_log2 8")
    refused(tmp_path, _pfr_bytes(block=0), "block size 0 is outside")
    refused(tmp_path, _pfr_bytes(n_layers=2), "prior scales")
    good = expgolomb.encode(p.indices, p.order)
    refused(tmp_path, _pfr_bytes(section=good + b"\x00"), "after the last code|index section is")
    refused(tmp_path, _pfr_bytes(section=good[:-1]), "ends inside the code|index section is")
    refused(tmp_path, _pfr_bytes(section=b""), "index section is 0 bytes")
    refused(tmp_path, _pfr_bytes(section=b"\xff" * 10_000), "index section is 10000 bytes")
    # An index of 2^8 or more: its code has one zero too many, refused before it is read.
    big = expgolomb.encode([1 << 9] + p.indices[1:], p.order)
    refused(tmp_path, _pfr_bytes(section=big), "leading zeros, a value over 255|index 512 is over 255")
    # Non-zero padding: the last code ends before the byte does.
    odd = p.indices[:-1] + [(1 << p.order) + 1]  # one code 2 bits longer: 6 bits of padding
    assert sum(expgolomb.code_length(k, p.order) for k in odd) % 8 == 2
    good = expgolomb.encode(odd, p.order)
    assert PFRPayload.from_bytes(_pfr_bytes(indices=odd)).indices == odd
    padded = good[:-1] + bytes([good[-1] | 1])
    refused(tmp_path, _pfr_bytes(section=padded), "padding bits are not zero")
    assert len(p.indices) == n_blocks


def test_orc_files_follow_mrc_rules(tmp_path):
    p, _ = coded("orc")
    raw = p.to_bytes()
    refused(tmp_path, raw + b"\x00", "index section is", kind="orc")
    refused(tmp_path, raw[:-1], "index section is", kind="orc")
