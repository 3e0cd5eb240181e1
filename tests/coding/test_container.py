"""Container framing, bit packing and varints: round trips and every kind of damage."""
import random

import pytest

from nncompress.coding import bitpack, varint
from nncompress.coding.container import ContainerError, read_container, write_container


@pytest.mark.parametrize("width", [1, 3, 8, 13, 20, 32])
def test_bitpack_round_trip(width):
    rng = random.Random(width)
    values = [rng.randrange(1 << width) for _ in range(101)]
    raw = bitpack.pack(values, width)
    assert len(raw) == (101 * width + 7) // 8
    assert bitpack.unpack(raw, width, 101) == values


def test_bitpack_rejects_overflow_and_short_input():
    with pytest.raises(ValueError):
        bitpack.pack([8], 3)
    with pytest.raises(ValueError):
        bitpack.pack([-1], 3)  # a negative value must not wrap to the table's last entry
    with pytest.raises(ValueError):
        bitpack.unpack(b"\x00", 20, 1)


def test_varint_round_trip():
    for v in [0, 1, 127, 128, 300, 2**32 - 1, 2**40]:
        raw = varint.encode(v)
        assert varint.decode(raw + b"tail") == (v, len(raw))
    with pytest.raises(ValueError):
        varint.decode(b"\x80")


def test_round_trip_and_size(tmp_path):
    path = tmp_path / "m.bin"
    n = write_container(path, "mrc", b"payload!")
    assert n == path.stat().st_size == 4 + 2 + 8 + 4
    assert read_container(path) == ("mrc", b"payload!")


@pytest.mark.parametrize("damage,match", [
    (lambda d: d[:-1], "CRC"),
    (lambda d: d[:5], "truncated"),
    (lambda d: b"XXXX" + d[4:], "not an nncompress file"),
    (lambda d: d[:8] + bytes([d[8] ^ 0x10]) + d[9:], "CRC"),
])
def test_damage_is_reported(tmp_path, damage, match):
    path = tmp_path / "m.bin"
    write_container(path, "mrc", b"some payload bytes")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ContainerError, match=match):
        read_container(path)


def test_missing_file(tmp_path):
    with pytest.raises(ContainerError, match="cannot read"):
        read_container(tmp_path / "nope.mrc")
