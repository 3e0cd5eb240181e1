"""Finding, checking and fetching raw files for torchvision's readers (``data/files.py``), on MNIST's
layout: real copies of the shared files, and small idx files written here in the real format."""

import functools
import gzip
import hashlib
import http.server
import shutil
import socket
import struct
import threading
import time

import numpy as np
import pytest
import torch
from torchvision import datasets

from nncompress.core.errors import UserError
from nncompress.data import DataNotFoundError, MNISTDataModule, files

UNREACHABLE = "http://127.0.0.1:9/"  # discard port on loopback: nothing leaves the machine
NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]


def module_with(mirrors=(UNREACHABLE,), resources=None):
    """MNISTDataModule whose torchvision class has other mirrors (and md5 table)."""
    attrs = {"mirrors": list(mirrors)}
    if resources is not None:
        attrs["resources"] = resources
    reader = type("MNIST", (datasets.MNIST,), attrs)  # same name: same folder, MNIST/raw
    return type("ToyMNISTDataModule", (MNISTDataModule,), {"DATASETS": {**MNISTDataModule.DATASETS, "mnist": reader}})


def idx(arr: np.ndarray) -> bytes:
    """The idx format (big-endian dims after a magic of 0, 0, type 0x08 = uint8, rank)."""
    return struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_toy_mnist(root, n_train=12, n_test=5, seed=0):
    """Small MNIST-format .gz files under root/MNIST/raw; returns (arrays, resources with their md5s)."""
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8)}
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    resources = []
    for name, arr in arrays.items():
        payload = gzip.compress(idx(arr))
        (raw / f"{name}.gz").write_bytes(payload)
        resources.append((f"{name}.gz", hashlib.md5(payload).hexdigest()))
    return arrays, resources


def copy_real(real_data_dir, dest):
    raw = dest / "MNIST" / "raw"
    shutil.copytree(real_data_dir / "MNIST" / "raw", raw)
    raw.chmod(0o755)
    for f in raw.iterdir():
        f.chmod(0o644)
    return raw


def test_missing_folder_without_network_one_line_naming_folder_and_files(tmp_path):
    dm = module_with()("mnist", data_dir=tmp_path / "nowhere", device="cpu")  # download=True
    start = time.monotonic()
    with pytest.raises(DataNotFoundError) as info:
        dm.setup()
    assert time.monotonic() - start < 10  # a probe, not torchvision's retries
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert msg.startswith(f"MNIST files missing in {tmp_path / 'nowhere' / 'MNIST' / 'raw'}: {', '.join(NAMES)} (")
    assert "no network: cannot reach 127.0.0.1" in msg and "NNCOMPRESS_DATA" in msg and "\n" not in msg
    assert not (tmp_path / "nowhere").exists()  # nothing half-written


def test_download_disabled_reports_missing(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"missing .* \(download disabled: copy them there"):
        MNISTDataModule("fashion_mnist", data_dir=tmp_path, download=False, device="cpu").setup()


def test_corrupt_real_copy_is_named_and_never_overwritten(tmp_path, real_data_dir):
    raw = copy_real(real_data_dir, tmp_path)
    victim = raw / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(DataNotFoundError) as info:
        module_with()("mnist", data_dir=tmp_path, device="cpu").setup()
    msg = str(info.value)
    got = hashlib.md5(bytes(data)).hexdigest()
    assert f"corrupt in {raw}: t10k-labels-idx1-ubyte.gz (md5 {got}, expected ec29112dd5afa0611ce80d1b7f02629c)" in msg
    assert all(other not in msg for other in NAMES[:3]) and "\n" not in msg
    assert victim.read_bytes() == bytes(data)  # a corrupt file is reported, never overwritten


@pytest.fixture
def http_mirror(tmp_path, real_data_dir):
    """The real MNIST .gz files served over HTTP on a loopback port: (folder, url)."""
    folder = copy_real(real_data_dir, tmp_path / "mirror")
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # torchvision's redirect probe closes the connection early: not an error here


def test_fetch_from_a_mirror_is_md5_checked_by_torchvision(tmp_path, http_mirror):
    mirror, url = http_mirror
    cls = module_with(mirrors=(UNREACHABLE, url))  # the first fails, the second serves
    dm = cls("mnist", data_dir=tmp_path / "root", device="cpu", val_size=0)
    dm.setup()
    assert len(dm.x_train) == 60_000 and torch.bincount(dm.y_test).tolist()[:2] == [980, 1135]
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert {p.name for p in raw.iterdir()} >= set(NAMES)  # downloaded there (and unpacked by torchvision)
    # a mirror serving a wrong file: torchvision's md5 check refuses it, and the error says so
    (mirror / NAMES[1]).write_bytes(b"tampered")
    with pytest.raises(DataNotFoundError) as info:
        cls("mnist", data_dir=tmp_path / "other", device="cpu").setup()
    msg = str(info.value)
    assert f"missing in {tmp_path / 'other' / 'MNIST' / 'raw'}: train-labels-idx1-ubyte.gz, t10k" in msg
    assert "(download failed: " in msg and "files corrupt" not in msg  # the partial download was removed
    assert not (tmp_path / "other" / "MNIST" / "raw" / NAMES[1]).exists()


def test_read_only_copy_is_unpacked_elsewhere_and_left_untouched(real_data_dir):
    before = sorted(p.name for p in (real_data_dir / "MNIST" / "raw").iterdir())
    dm = MNISTDataModule("mnist", data_dir=real_data_dir, download=False, device="cpu", val_size=0)
    x_tr, y_tr, x_te, y_te = dm.load_raw()
    assert x_tr.shape == (60_000, 28, 28) and x_te.shape == (10_000, 28, 28)
    assert sorted(p.name for p in (real_data_dir / "MNIST" / "raw").iterdir()) == before


def test_toy_files_in_the_real_format_read_back_exactly(tmp_path):
    arrays, resources = write_toy_mnist(tmp_path)
    x_tr, y_tr, x_te, y_te = module_with(resources=resources)("mnist", data_dir=tmp_path, device="cpu").load_raw()
    assert x_tr.dtype == torch.uint8 and y_tr.dtype == torch.int64
    assert np.array_equal(x_tr.numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(y_tr.numpy(), arrays["train-labels-idx1-ubyte"])
    assert np.array_equal(x_te.numpy(), arrays["t10k-images-idx3-ubyte"]) and y_te.tolist() == [0, 1, 2, 3, 4]
    # the same files against the official md5s: all four corrupt; accepted with check_md5=False
    with pytest.raises(DataNotFoundError, match="files corrupt in .*" + ".*".join(NAMES)):
        MNISTDataModule("mnist", data_dir=tmp_path, device="cpu").load_raw()
    unchecked = MNISTDataModule("mnist", data_dir=tmp_path, device="cpu", check_md5=False, val_size=2)
    unchecked.setup()
    assert unchecked.n_train == 10 and len(unchecked.x_test) == 5


def test_unpacked_files_without_their_gz_are_used(tmp_path):
    arrays, _ = write_toy_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    for gz in raw.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    x_tr = MNISTDataModule("mnist", data_dir=tmp_path, device="cpu", download=False).load_raw()[0]
    assert np.array_equal(x_tr.numpy(), arrays["train-images-idx3-ubyte"])
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x07\x01garbage")  # not an idx file
    with pytest.raises(UserError) as info:
        MNISTDataModule("mnist", data_dir=tmp_path, device="cpu", download=False).load_raw()
    assert str(info.value).startswith(f"{raw}: not readable as mnist idx files (") and "\n" not in str(info.value)


def test_data_dir_defaults_to_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NNCOMPRESS_DATA", str(tmp_path))
    assert MNISTDataModule("fashion_mnist").data_dir == str(tmp_path)
    monkeypatch.delenv("NNCOMPRESS_DATA")
    assert MNISTDataModule("mnist").data_dir == "data"
    with pytest.raises(ValueError, match="unknown dataset 'kmnist'"):
        MNISTDataModule("kmnist")


def test_probe_and_fetch_fail_fast_and_restore_the_socket_timeout():
    assert files.reachable(["file:///nowhere/x.gz"]) is None
    start = time.monotonic()
    assert files.reachable([UNREACHABLE + "a.gz", "http://127.0.0.1:9/b.gz"]) == "no network: cannot reach 127.0.0.1"
    assert time.monotonic() - start < 2 * files.PROBE_TIMEOUT_S + 1
    before = socket.getdefaulttimeout()
    seen = []

    def failing():
        seen.append(socket.getdefaulttimeout())
        raise RuntimeError("File not found or corrupted.")

    assert files.fetch(failing, ["file:///x"]) == "download failed: File not found or corrupted."
    assert seen == [files.DOWNLOAD_TIMEOUT_S] and socket.getdefaulttimeout() == before
    assert files.fetch(lambda: seen.append("ran"), [UNREACHABLE]).startswith("no network") and seen[-1] != "ran"
