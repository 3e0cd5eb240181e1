"""The architecture header: both field orders round-trip, and their bytes are the formats' own."""
import pytest

from nncompress.coding import varint
from nncompress.coding.arch import read_arch, write_arch
from nncompress.models.spec import ArchSpec

PAPER = ArchSpec("lenet5", {"conv2": 2, "fc1": 64})


def test_hashing_layout_bytes_and_round_trip():
    raw = write_arch(PAPER, "hashing")
    # name | 4 layers | factors 1, 2, 64, 1 | in 1, classes 10, image 28, hash seed 0: 16 bytes.
    assert raw == bytes([6]) + b"lenet5" + bytes([4, 1, 2, 64, 1, 1, 10, 28, 0])
    spec, pos = read_arch(raw + b"tail", 0, "hashing")
    assert spec == PAPER and pos == len(raw)


def test_widths_layout_bytes_and_round_trip():
    narrow = ArchSpec("lenet300_100", {}, 1, 10, 28, widths=(212, 45))
    raw = write_arch(narrow, "widths")
    assert raw == bytes([12]) + b"lenet300_100" + bytes([1, 10, 28, 3]) + varint.encode(212) + bytes([45, 10])
    spec, pos = read_arch(raw, 0, "widths")
    assert spec == narrow and pos == len(raw)


def test_malformed_headers_are_refused():
    with pytest.raises(ValueError, match="unknown architecture 'vgg19'"):
        read_arch(bytes([5]) + b"vgg19" + bytes(8), 0, "hashing")
    with pytest.raises(ValueError, match="lists 3 layers, lenet5 has 4"):
        read_arch(bytes([6]) + b"lenet5" + bytes([3, 1, 1, 1, 1, 10, 28, 0]), 0, "hashing")
    raw = bytes([12]) + b"lenet300_100" + bytes([1, 10, 28, 3, 30, 20, 7])
    with pytest.raises(ValueError, match="7 wide but the file declares 10 classes"):
        read_arch(raw, 0, "widths")
    with pytest.raises(ValueError, match="needs the spec's widths"):
        write_arch(PAPER, "widths")
