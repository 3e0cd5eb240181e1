"""Versioned, checksummed container shared by every compressed format.

    magic "NNCZ" | version (1 byte) | kind (1 byte) | payload | CRC-32 of all before (4 bytes, LE)

Reading trusts nothing: only a regular file is opened, its magic is checked before the rest is
read, and no more than `MAX_FILE_BYTES` are read (far above any real model: ResNet-18 in float32
is 45 MB). The CRC catches accidents, not intent; each codec validates its payload.
"""
from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

from nncompress.core.errors import UserError

MAGIC = b"NNCZ"
VERSION = 1
KINDS = {"mrc": 1, "csr_huffman": 2, "codebook": 3, "orc": 4, "pfr": 5}
_NAMES = {v: k for k, v in KINDS.items()}
MAX_FILE_BYTES = 1 << 30


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


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, read only if it is a regular file that starts with the magic and is at most
    MAX_FILE_BYTES long (a FIFO, a device such as /dev/zero or a directory is refused unread)."""
    try:
        with open(path, "rb", buffering=0, opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK)) as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ContainerError(f"{path} is not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise ContainerError(f"{path} is {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit "
                                     f"of a compressed model")
            head = fh.read(len(MAGIC))
            if head != MAGIC:
                if len(head) < len(MAGIC):
                    raise ContainerError(f"{path} is truncated ({len(head)} bytes): not an nncompress file")
                raise ContainerError(f"{path} is not an nncompress file (bad magic {head!r})")
            rest = fh.read(MAX_FILE_BYTES + 1 - len(MAGIC))  # a file still growing cannot exceed it
    except OSError as exc:
        raise ContainerError(f"cannot read {path}: {exc.strerror or exc}") from None
    data = head + rest
    if len(data) > MAX_FILE_BYTES:
        raise ContainerError(f"{path} is over the {MAX_FILE_BYTES:,}-byte limit of a compressed model")
    return data


def read_container(path):
    """Returns (kind name, payload); raises ContainerError with a one-line reason."""
    path = Path(path)
    data = _read_bounded(path)
    if len(data) < len(MAGIC) + 6:
        raise ContainerError(f"{path} is truncated ({len(data)} bytes): not an nncompress file")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise ContainerError(f"{path} is corrupt or truncated: CRC-32 mismatch")
    version, kind = body[4], body[5]
    if version != VERSION:
        raise ContainerError(f"{path} has container version {version}; this nncompress reads {VERSION}")
    if kind not in _NAMES:
        raise ContainerError(f"{path} holds unknown payload kind {kind}")
    return _NAMES[kind], body[6:]
