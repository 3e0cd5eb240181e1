"""Exponential-Golomb codes: a universal prefix code for unbounded non-negative integers.

The code of order m (Teuhola 1978; m = 0 is Elias' gamma code, Elias 1975) writes v >= 0 as

    q = v >> m;   (bit_length(q + 1) - 1) zeros | q + 1 in binary (its leading 1 first) | v's low m bits

so it takes m + 2 * floor(log2(v / 2^m + 1)) + 1 bits: m + 1 for every v < 2^m, then two bits more
per doubling. With m near the typical log2 v (the PFR coder stores the m that makes its indices
shortest), an index of about 2^m costs log2 v + O(1) bits, and a larger one log2 v + O(log log v).

Bits are written most significant first into one '0'/'1' string and converted once (as in
`bitpack`), zero-padded to a whole byte. A reader takes untrusted bytes: `decode` is given the
largest value a field may hold and stops with a ValueError at the first code that would exceed it
(too many leading zeros), that runs past the end, or at padding that is not zero or longer than 7
bits; every accepted byte string is the one `encode` writes for the values decoded.
"""
from __future__ import annotations


def code_length(v: int, m: int) -> int:
    """Bits of the order-m code of v."""
    return m + 2 * ((v >> m) + 1).bit_length() - 1


def best_order(values, max_order: int) -> int:
    """The order in 0..max_order that codes `values` in the fewest bits (the smallest on a tie)."""
    values = [int(v) for v in values]
    lengths = [sum(code_length(v, m) for v in values) for m in range(max_order + 1)]
    return min(range(max_order + 1), key=lambda m: (lengths[m], m))


def encode(values, m: int) -> bytes:
    """The order-m codes of `values` (each >= 0), concatenated, zero-padded to a byte."""
    parts = []
    for v in values:
        v = int(v)
        if v < 0:
            raise ValueError(f"exp-Golomb codes non-negative integers, got {v}")
        q = (v >> m) + 1
        parts.append("0" * (q.bit_length() - 1) + format(q, "b") + (format(v & ((1 << m) - 1), f"0{m}b") if m else ""))
    bits = "".join(parts)
    if not bits:
        return b""
    pad = -len(bits) % 8
    return (int(bits, 2) << pad).to_bytes((len(bits) + pad) // 8, "big")


def decode(raw: bytes, m: int, count: int, max_value: int) -> list:
    """`count` order-m codes from `raw`, which must hold exactly them and at most 7 zero bits of
    padding. A value above `max_value` is refused as soon as its zero run says so, before it is read."""
    if count == 0:
        if raw:
            raise ValueError(f"index section has {len(raw)} bytes for no blocks")
        return []
    nbits = 8 * len(raw)
    bits = format(int.from_bytes(raw, "big"), f"0{nbits}b") if raw else ""
    max_zeros = ((max_value >> m) + 1).bit_length() - 1
    out, pos = [], 0
    for i in range(count):
        one = bits.find("1", pos, pos + max_zeros + 1)
        if one < 0:
            if pos + max_zeros + 1 > nbits and "1" not in bits[pos:]:
                raise ValueError(f"index section ends inside the code of block {i} (of {count})")
            raise ValueError(f"block {i}: code of more than {max_zeros} leading zeros, a value over {max_value}")
        zeros = one - pos
        end = one + zeros + 1 + m
        if end > nbits:
            raise ValueError(f"index section ends inside the code of block {i} (of {count})")
        q = int(bits[one : one + zeros + 1], 2) - 1
        v = (q << m) | (int(bits[one + zeros + 1 : end], 2) if m else 0)
        if v > max_value:
            raise ValueError(f"block {i}: index {v} is over {max_value}")
        out.append(v)
        pos = end
    if nbits - pos >= 8:
        raise ValueError(f"index section has {(nbits - pos) // 8} bytes after the last code")
    if "1" in bits[pos:]:
        raise ValueError("index padding bits are not zero")
    return out
