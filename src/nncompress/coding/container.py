"""Versioned, checksummed container shared by every compressed format.

    magic "NNCZ" | version (1 byte) | kind (1 byte) | payload | CRC-32 of all before (4 bytes, LE)
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from nncompress.core.errors import UserError

MAGIC = b"NNCZ"
VERSION = 1
KINDS = {"mrc": 1, "csr_huffman": 2, "codebook": 3}
_NAMES = {v: k for k, v in KINDS.items()}


class ContainerError(UserError):
    """A compressed file that cannot be read; the message is one line for the user."""


def write_container(path, kind: str, payload: bytes) -> int:
    """Write atomically (temp file + rename); returns the number of bytes on disk."""
    body = MAGIC + bytes([VERSION, KINDS[kind]]) + payload
    data = body + struct.pack("<I", zlib.crc32(body))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(data)


def read_container(path):
    """Returns (kind name, payload); raises ContainerError with a one-line reason."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContainerError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) < len(MAGIC) + 6:
        raise ContainerError(f"{path} is truncated ({len(data)} bytes): not an nncompress file")
    if data[:4] != MAGIC:
        raise ContainerError(f"{path} is not an nncompress file (bad magic {data[:4]!r})")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise ContainerError(f"{path} is corrupt or truncated: CRC-32 mismatch")
    version, kind = body[4], body[5]
    if version != VERSION:
        raise ContainerError(f"{path} has container version {version}; this nncompress reads {VERSION}")
    if kind not in _NAMES:
        raise ContainerError(f"{path} holds unknown payload kind {kind}")
    return _NAMES[kind], body[6:]
