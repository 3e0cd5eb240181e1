"""Unsigned LEB128 varints: small header integers in as few bytes as they need.

A reader accepts only what `encode` writes: at most `MAX_BYTES` bytes (a 64-bit value), no
over-long form (a final byte of 0 after a continuation byte, i.e. padding zeros), so decoding is
linear and every value has exactly one encoding.
"""
from __future__ import annotations

MAX_BYTES = 10  # ceil(64 / 7): every value below 2**64


def encode(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode(buf: bytes, pos: int = 0, limit: int = (1 << 64) - 1):
    """Returns (value, next position); ValueError on a truncated, over-long or too-large varint, or a
    value above `limit` (callers pass what the field may hold)."""
    value = shift = 0
    for i in range(MAX_BYTES):
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte == 0 and i:
                raise ValueError("over-long varint (padding zero bytes)")
            if value > limit:
                raise ValueError(f"varint {value} exceeds the field's limit {limit}")
            return value, pos
    raise ValueError(f"varint longer than {MAX_BYTES} bytes")
