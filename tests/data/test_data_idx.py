import gzip
import struct

import numpy as np
import pytest
import torch

from nncompress.data import read_idx


def idx_bytes(arr: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write(path, data: bytes, gz: bool):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", [(7,), (5, 3, 4)], ids=["idx1", "idx3"])
def test_round_trip(tmp_path, gz, shape):
    arr = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = write(tmp_path / ("f.gz" if gz else "f"), idx_bytes(arr), gz)
    out = read_idx(path)
    assert out.dtype == torch.uint8
    assert tuple(out.shape) == shape
    assert np.array_equal(out.numpy(), arr)


def test_gzip_detected_by_content_not_suffix(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = write(tmp_path / "no_suffix", idx_bytes(arr), gz=True)
    assert read_idx(path).tolist() == arr.tolist()


def test_big_endian_non_byte_types(tmp_path):
    arr = np.array([1, -2, 70000], dtype=">i4")
    data = struct.pack(">BBBBI", 0, 0, 0x0C, 1, 3) + arr.tobytes()
    out = read_idx(write(tmp_path / "ints", data, gz=False))
    assert out.dtype == torch.int32 and out.tolist() == [1, -2, 70000]


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_rejected(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 2, 2), np.uint8))[:-3]
    with pytest.raises(ValueError, match="truncated"):
        read_idx(write(tmp_path / "t", data, gz))


def test_truncated_gzip_stream_rejected(tmp_path):
    gz = gzip.compress(idx_bytes(np.zeros((50, 10, 10), np.uint8)))
    path = tmp_path / "t.gz"
    path.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


def test_truncated_header_rejected(tmp_path):
    data = idx_bytes(np.zeros((4, 2, 2), np.uint8))[:9]
    with pytest.raises(ValueError, match="header"):
        read_idx(write(tmp_path / "h", data, gz=False))


@pytest.mark.parametrize("data", [b"", b"\x00\x00", b"\x01\x00\x08\x01" + b"\x00" * 8,
                                  b"\x00\x00\x07\x01\x00\x00\x00\x01x"])
def test_bad_magic_rejected(tmp_path, data):
    with pytest.raises(ValueError, match="magic"):
        read_idx(write(tmp_path / "m", data, gz=False))


def test_trailing_bytes_rejected(tmp_path):
    data = idx_bytes(np.zeros((3,), np.uint8)) + b"extra"
    with pytest.raises(ValueError, match="oversized"):
        read_idx(write(tmp_path / "o", data, gz=False))
