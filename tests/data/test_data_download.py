import hashlib
import shutil
from dataclasses import replace

import pytest

from nncompress.data import (
    MNIST_FILES,
    SPECS,
    DataNotFoundError,
    DatasetFiles,
    MNISTDataModule,
    ensure_files,
)
from nncompress.data import download as dl

UNREACHABLE = ("http://127.0.0.1:9/",)  # discard port on loopback: nothing leaves the machine


def make_spec(src_dir, names=("a.gz", "b.gz"), mirrors=()):
    """Write small source files and a spec describing them (mirror = that folder via file://)."""
    src_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for name in names:
        payload = f"payload of {name}".encode()
        (src_dir / name).write_bytes(payload)
        files.append((name, hashlib.md5(payload).hexdigest()))
    return DatasetFiles("Toy", tuple(files), tuple(mirrors))


def test_missing_folder_without_network_names_folder_and_all_files(tmp_path):
    spec = replace(MNIST_FILES, mirrors=UNREACHABLE)
    with pytest.raises(DataNotFoundError) as info:
        ensure_files(tmp_path / "nowhere", spec, download=True)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in msg
    for name in spec.filenames:
        assert name in msg
    assert "\n" not in msg and "NNCOMPRESS_DATA" in msg
    # nothing half-written is left behind
    raw = tmp_path / "nowhere" / "MNIST" / "raw"
    assert not raw.exists() or list(raw.iterdir()) == []


def test_download_disabled_reports_missing(tmp_path):
    with pytest.raises(DataNotFoundError, match="download disabled"):
        ensure_files(tmp_path, MNIST_FILES, download=False)


def test_corrupted_real_copy_is_named(tmp_path, real_data_dir):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(real_data_dir / "MNIST" / "raw", raw)
    for f in raw.iterdir():
        f.chmod(0o644)
    assert ensure_files(tmp_path, MNIST_FILES, download=False) == raw
    victim = raw / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    spec = replace(MNIST_FILES, mirrors=UNREACHABLE)
    with pytest.raises(DataNotFoundError) as info:
        ensure_files(tmp_path, spec, download=True)
    msg = str(info.value)
    assert "corrupt" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    for other in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        assert other not in msg
    assert victim.read_bytes() == bytes(data)  # a corrupt file is reported, never overwritten


def test_corrupt_toy_file_named(tmp_path):
    spec = make_spec(tmp_path / "root" / "Toy" / "raw")
    (tmp_path / "root" / "Toy" / "raw" / "b.gz").write_bytes(b"garbage")
    with pytest.raises(DataNotFoundError, match=r"corrupt.*b\.gz") as info:
        ensure_files(tmp_path / "root", spec, download=False)
    assert "a.gz" not in str(info.value)


def test_download_from_mirror_verifies_and_writes(tmp_path):
    src = tmp_path / "mirror"
    spec = make_spec(src, mirrors=(UNREACHABLE[0], src.as_uri() + "/"))
    raw = ensure_files(tmp_path / "root", spec, download=True)
    assert raw == tmp_path / "root" / "Toy" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["a.gz", "b.gz"]  # no .part leftovers
    assert (raw / "a.gz").read_bytes() == (src / "a.gz").read_bytes()


def test_download_with_wrong_md5_is_rejected(tmp_path):
    src = tmp_path / "mirror"
    spec = make_spec(src, mirrors=(src.as_uri() + "/",))
    (src / "a.gz").write_bytes(b"tampered")
    with pytest.raises(DataNotFoundError, match=r"missing.*a\.gz"):
        ensure_files(tmp_path / "root", spec, download=True)
    assert [p.name for p in (tmp_path / "root" / "Toy" / "raw").iterdir()] == ["b.gz"]


def test_md5_cached_until_file_changes(tmp_path, monkeypatch):
    root = tmp_path / "root"
    spec = make_spec(root / "Toy" / "raw")
    ensure_files(root, spec)
    calls = []
    real_md5 = hashlib.md5
    monkeypatch.setattr(dl.hashlib, "md5", lambda *a: calls.append(1) or real_md5(*a))
    ensure_files(root, spec)
    assert calls == []  # verified files are not hashed again
    (root / "Toy" / "raw" / "a.gz").write_bytes(b"a different, longer payload")
    with pytest.raises(DataNotFoundError, match="corrupt"):
        ensure_files(root, spec)
    assert calls  # the changed file was hashed again


def test_datamodule_uses_patchable_specs(tmp_path, monkeypatch):
    monkeypatch.setitem(SPECS, "mnist", replace(MNIST_FILES, mirrors=UNREACHABLE))
    dm = MNISTDataModule("mnist", data_dir=tmp_path, device="cpu")
    with pytest.raises(DataNotFoundError, match="MNIST files missing"):
        dm.setup()


def test_data_dir_defaults_to_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NNCOMPRESS_DATA", str(tmp_path))
    assert MNISTDataModule("fashion_mnist").data_dir == str(tmp_path)
    monkeypatch.delenv("NNCOMPRESS_DATA")
    assert MNISTDataModule("mnist").data_dir == "data"
