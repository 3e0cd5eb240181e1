"""Fixed-width bit packing (most significant bit first, zero-padded to a whole byte)."""
from __future__ import annotations


def pack(values, width: int) -> bytes:
    acc = 0
    for v in values:
        v = int(v)
        if not 0 <= v < (1 << width):
            raise ValueError(f"value {v} does not fit in {width} bits")
        acc = (acc << width) | v
    nbits = width * len(values)
    nbytes = (nbits + 7) // 8
    return (acc << (8 * nbytes - nbits)).to_bytes(nbytes, "big")


def unpack(raw: bytes, width: int, count: int) -> list:
    nbits = width * count
    nbytes = (nbits + 7) // 8
    if len(raw) < nbytes:
        raise ValueError(f"need {nbytes} bytes for {count} values of {width} bits, got {len(raw)}")
    acc = int.from_bytes(raw[:nbytes], "big") >> (8 * nbytes - nbits)
    mask = (1 << width) - 1
    return [(acc >> (width * (count - 1 - i))) & mask for i in range(count)]
