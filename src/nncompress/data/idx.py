"""Reader for the IDX format used by MNIST-style datasets (optionally gzipped)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Union

import numpy as np
import torch

# Type byte of the magic number -> big-endian numpy dtype, per the IDX spec.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    # Sniff the content rather than trusting the ".gz" suffix.
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def parse_idx(data: bytes, source: str = "<bytes>") -> torch.Tensor:
    """Parse the bytes of an (uncompressed) IDX file into a tensor."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{source}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise ValueError(f"{source}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{source}: truncated IDX header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "oversized"
        raise ValueError(
            f"{source}: {kind} IDX file, shape {shape} needs {expected} bytes, got {len(data)}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # astype copies into native byte order and gives torch a writable buffer.
    return torch.from_numpy(arr.astype(dtype.newbyteorder("="), copy=True))


def read_idx(path: Union[str, Path]) -> torch.Tensor:
    """Read an idx1/idx3 (or any-rank) IDX file, gzipped or not; uint8 files give uint8."""
    path = Path(path)
    return parse_idx(_raw_bytes(path), str(path))
