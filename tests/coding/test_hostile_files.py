"""Crafted files, each class of issue 12 with a valid CRC: refused in one line (ContainerError
naming the file) by the rule that applies, before anything large is built.

Each file is written by the project's own encoders fed hostile values (encoders trust their
caller; decoders trust nothing), or by editing one field of a real file and fixing the CRC.
"""
import math
import struct
import zlib

import pytest
import torch

from nncompress.coding import varint
from nncompress.coding.codebook import CodebookNet
from nncompress.coding.codebook import encode as codebook_encode
from nncompress.coding.codec import read_file
from nncompress.coding.container import KINDS, MAGIC, VERSION, ContainerError
from nncompress.coding.csr_huffman import CompressedNet
from nncompress.coding.mrc import MRCPayload
from nncompress.models.spec import MAX_PARAMS, ArchSpec

SMALL = ArchSpec("lenet300_100", {}, 1, 10, 8)  # 8 x 8 inputs: 50,410 parameters, decodes in milliseconds


def container(kind: str, payload: bytes) -> bytes:
    body = MAGIC + bytes([VERSION, KINDS[kind]]) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def refused(tmp_path, kind: str, payload: bytes, match: str) -> str:
    path = tmp_path / f"hostile.{kind}"
    path.write_bytes(container(kind, payload))
    with pytest.raises(ContainerError, match=match) as info:
        read_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def mrc(spec=SMALL, seed=3, block=30, bits=8, rho=None, indices=None) -> MRCPayload:
    if indices is None:
        indices = [n % 100 for n in range(math.ceil(spec.n_coded() / max(block, 1)))]
    rho = torch.full((len(spec.layer_names),), 0.05) if rho is None else rho
    return MRCPayload(spec, seed, block, bits, rho, indices)


def nnc(spec=None, codebook=None, index_bits=5, extra=b"") -> bytes:
    spec = spec or ArchSpec("lenet300_100", {}, 1, 10, 8, widths=(300, 100))
    gen = torch.Generator().manual_seed(0)
    net = spec.build()
    codebook = torch.tensor([0.0, -0.1, 0.1]) if codebook is None else codebook
    indices = [torch.randint(0, 3, net.get_parameter(f"{n}.weight").shape, generator=gen)
               * (torch.rand(net.get_parameter(f"{n}.weight").shape, generator=gen) < 0.1) for n in net.layer_names]
    biases = [torch.zeros(i.shape[0]) for i in indices]
    return CompressedNet(spec, codebook, indices, biases, index_bits).to_bytes()[0] + extra


def cbk(spec=SMALL, codebook=None, keep=0.1) -> bytes:
    net = spec.build()
    codebook = torch.tensor([0.0, -0.1, 0.1]) if codebook is None else codebook
    codes = {n: (codebook, torch.randint(1, 3, p.shape) * (torch.rand(p.shape) < keep))
             for n, p in net.named_parameters() if n.endswith("weight")}
    return codebook_encode(CodebookNet.from_network(spec, net, codes))[0]


def test_the_small_files_are_valid(tmp_path):
    for kind, payload in (("mrc", mrc().to_bytes()), ("csr_huffman", nnc()), ("codebook", cbk())):
        path = tmp_path / f"ok.{kind}"
        path.write_bytes(container(kind, payload))
        _, decoded = read_file(path)
        assert decoded.spec.image_size == 8 and decoded(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


# -- architecture sizes: bounded before the network is built -------------------------------------
@pytest.mark.parametrize("field,value,match", [
    ("in_channels", 10**6, "in_channels 1000000 is outside"),
    ("num_classes", 2**40, "num_classes 1099511627776 is outside"),
    ("image_size", 2**62, "image_size .* is outside"),
    ("image_size", 500, "parameters, over the limit"),   # within LIMITS, but 75 M parameters
    ("image_size", 3, "cannot run on its own input"),     # LeNet-5's convolutions need more
    ("in_channels", 0, "in_channels 0 is outside"),
])
def test_architecture_sizes(tmp_path, field, value, match):
    spec = ArchSpec("lenet5", {}, 1, 10, 28)
    payload = mrc(spec).to_bytes()
    setattr(spec, field, value)
    head = mrc(spec, indices=[]).to_bytes()  # the same file with the hostile header
    refused(tmp_path, "mrc", head + payload[len(head):], match)


def test_width_and_hashing_factor(tmp_path):
    wide = ArchSpec("lenet300_100", {}, 1, 10, 8, widths=(2**40, 100))
    from nncompress.coding.arch import write_arch
    payload = nnc()
    honest = write_arch(ArchSpec("lenet300_100", {}, 1, 10, 8, widths=(300, 100)), "widths")
    refused(tmp_path, "csr_huffman", write_arch(wide, "widths") + payload[len(honest):], "width .* is outside")
    spec = ArchSpec("lenet300_100", {"fc1": 10**12}, 1, 10, 8)
    refused(tmp_path, "mrc", mrc(spec, indices=[]).to_bytes(), "hashing factor 1000000000000 of fc1")
    assert MAX_PARAMS < 10**12


# -- the MRC's own fields ------------------------------------------------------------------------
@pytest.mark.parametrize("block,bits,match", [
    (0, 8, "block size 0 is outside"),
    (10**9, 8, "block size 1000000000 is outside"),
    (30, 0, "0 bits per block"),
    (30, 63, "63 bits per block"),
    (30, 2**64 - 1, "bits per block"),
])
def test_mrc_block_and_bits(tmp_path, block, bits, match):
    refused(tmp_path, "mrc", mrc(block=block, bits=bits, indices=[]).to_bytes(), match)


@pytest.mark.parametrize("value,match", [(float("nan"), "NaN or an infinity"), (float("inf"), "NaN or an infinity"),
                                         (-0.05, "positive"), (0.0, "positive")])
def test_mrc_scales(tmp_path, value, match):
    rho = torch.full((3,), 0.05)
    rho[1] = value
    refused(tmp_path, "mrc", mrc(rho=rho).to_bytes(), match)


def test_mrc_index_section_exact(tmp_path):
    good = mrc().to_bytes()
    refused(tmp_path, "mrc", good + b"\x00", "index section is")       # longer than needed
    refused(tmp_path, "mrc", good[:-1], "index section is")             # shorter
    assert math.ceil(SMALL.n_coded() / 30) * 7 % 8  # at 7 bits the last byte has padding to spoil
    odd = mrc(bits=7).to_bytes()
    refused(tmp_path, "mrc", odd[:-1] + bytes([odd[-1] | 1]), "padding bits are not zero")


# -- CSR / Huffman / codebook -------------------------------------------------------------------
def test_csr_dimensions_must_equal_the_layer(tmp_path):
    payload = bytearray(nnc())
    from nncompress.coding.arch import write_arch
    head = len(write_arch(ArchSpec("lenet300_100", {}, 1, 10, 8, widths=(300, 100)), "widths"))
    k = 3
    first_csr = head + 1 + 1 + 4 * k + 4 * 300  # index_bits, varint K, codebook, fc1's biases
    rows, pos = varint.decode(payload, first_csr)
    assert rows == 300
    hostile = payload[:first_csr] + varint.encode(2**40) + payload[pos:]
    refused(tmp_path, "csr_huffman", bytes(hostile), "CSR is 1099511627776 x 64 but the layer is 300 x 64")


@pytest.mark.parametrize("codebook,match", [
    (torch.tensor([0.0, float("nan"), 0.1]), "NaN or an infinity"),
    (torch.tensor([0.0, float("-inf"), 0.1]), "NaN or an infinity"),
    (torch.tensor([0.5, -0.1, 0.1]), "entry 0 must be exactly 0.0"),
])
def test_codebook_values(tmp_path, codebook, match):
    refused(tmp_path, "csr_huffman", nnc(codebook=codebook), match)
    if float(codebook[0]) == 0.0:
        refused(tmp_path, "codebook", cbk(codebook=codebook), match)
    else:  # a dense tensor's codebook may start anywhere: spoil a sparse tensor's entry 0 instead
        sparse = b"\x02\x03" + struct.pack("<f", 0.0)  # tag SPARSE, K = 3, entry 0
        payload = cbk()
        assert sparse in payload
        spoiled = payload.replace(sparse, b"\x02\x03" + struct.pack("<f", 0.5), 1)
        refused(tmp_path, "codebook", spoiled, "sparse tensor's codebook entry 0 must be exactly 0.0")


def test_trailing_bytes_and_index_bits(tmp_path):
    refused(tmp_path, "csr_huffman", nnc(extra=b"\x00"), "trailing bytes")
    refused(tmp_path, "codebook", cbk() + b"\x00", "trailing bytes")
    from nncompress.coding.arch import write_arch
    head = len(write_arch(ArchSpec("lenet300_100", {}, 1, 10, 8, widths=(300, 100)), "widths"))
    payload = bytearray(nnc())
    payload[head] = 0
    refused(tmp_path, "csr_huffman", bytes(payload), "index_bits")


def test_over_long_and_endless_varints(tmp_path):
    payload = mrc().to_bytes()
    # the name's length, 7, written in two bytes (0x87 0x00): the same value, over-long
    refused(tmp_path, "mrc", b"\x87\x00" + payload[1:], "over-long varint")
    refused(tmp_path, "mrc", b"\xff" * (1 << 20), "longer than 10 bytes")  # was 29 s of quadratic work
    with pytest.raises(ValueError, match="over-long"):
        varint.decode(b"\x80\x00")
    assert varint.decode(b"\x80\x01") == (128, 2) and varint.decode(varint.encode(2**64 - 1))[0] == 2**64 - 1


def test_huffman_table_cannot_outgrow_its_bytes():
    from nncompress.coding import huffman
    with pytest.raises(ValueError, match="huffman header"):  # 2**60 table entries announced in 3 bytes
        huffman.decode_from(varint.encode(5) + varint.encode(2**60) + b"\x01\x01")
    with pytest.raises(ValueError, match="expected"):
        huffman.decode_from(huffman.encode([1, 2, 3]), expect=4)


def test_codebook_file_rules(tmp_path):
    hashed = ArchSpec("lenet300_100", {"fc1": 2}, 1, 10, 8)
    from nncompress.coding.arch import write_arch
    payload = cbk()
    honest = write_arch(SMALL, "hashing")
    refused(tmp_path, "codebook", write_arch(hashed, "hashing") + payload[len(honest):], "unhashed")


# -- the file itself ---------------------------------------------------------------------------
def test_only_regular_files_within_the_limit(tmp_path):
    import os
    fifo = tmp_path / "model.mrc"
    os.mkfifo(fifo)
    with pytest.raises(ContainerError, match="not a regular file"):  # opened without blocking, then refused
        read_file(fifo)
    with pytest.raises(ContainerError, match="not a regular file"):
        read_file("/dev/zero")
    with pytest.raises(ContainerError, match="cannot read"):
        read_file(tmp_path)
    big = tmp_path / "big.mrc"
    with open(big, "wb") as fh:  # sparse: 1 GiB + 1 byte of holes, nothing written
        fh.write(MAGIC)
        fh.truncate((1 << 30) + 1)
    with pytest.raises(ContainerError, match="over the 1,073,741,824-byte limit"):
        read_file(big)
    wrong = tmp_path / "wrong.mrc"
    wrong.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ContainerError, match="bad magic"):
        read_file(wrong)


def test_a_few_header_bytes_cannot_claim_a_huge_hashed_layer(tmp_path):
    """An 80-byte file once declared fc1 of 32.7 M weights hashed to one variable: 1.6 GB of hash maps."""
    spec = ArchSpec("lenet300_100", {"fc1": 32_670_000}, 1, 10, 330)
    refused(tmp_path, "mrc", mrc(spec, indices=[]).to_bytes(), "hashes 32,670,000 weights, over the limit")
