"""Fixed-width bit packing (most significant bit first, zero-padded to a whole byte).

Built as one string of '0'/'1' and converted once: linear in the number of values (growing a
Python int value by value is quadratic and takes seconds for a few hundred thousand).
"""
from __future__ import annotations


def pack(values, width: int) -> bytes:
    values = [int(v) for v in values]
    if not values:
        return b""
    if min(values) < 0 or max(values) >= (1 << width):
        bad = next(v for v in values if not 0 <= v < (1 << width))
        raise ValueError(f"value {bad} does not fit in {width} bits")
    if width <= 16:
        table = [format(i, f"0{width}b") for i in range(1 << width)]
        bits = "".join([table[v] for v in values])
    else:
        bits = "".join([format(v, f"0{width}b") for v in values])
    pad = -len(bits) % 8
    return (int(bits, 2) << pad).to_bytes((len(bits) + pad) // 8, "big")


def unpack(raw: bytes, width: int, count: int) -> list:
    nbits = width * count
    nbytes = (nbits + 7) // 8
    if len(raw) < nbytes:
        raise ValueError(f"need {nbytes} bytes for {count} values of {width} bits, got {len(raw)}")
    if count == 0:
        return []
    bits = format(int.from_bytes(raw[:nbytes], "big"), f"0{8 * nbytes}b")
    return [int(bits[i : i + width], 2) for i in range(0, nbits, width)]
