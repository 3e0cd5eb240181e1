"""Locate, verify and (if possible) download the raw files of a dataset."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

DOWNLOAD_TIMEOUT_S = 10.0
_CHUNK = 1 << 20


class DataNotFoundError(FileNotFoundError):
    """Raised when dataset files are missing or corrupt and cannot be fetched."""


@dataclass(frozen=True)
class DatasetFiles:
    """Where a dataset's raw files live (``<root>/<folder>/raw``), their md5s and mirrors."""

    folder: str
    files: Tuple[Tuple[str, str], ...]
    mirrors: Tuple[str, ...] = ()

    @property
    def filenames(self) -> List[str]:
        return [name for name, _ in self.files]

    def raw_dir(self, root: Union[str, Path]) -> Path:
        return Path(root).expanduser() / self.folder / "raw"


MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

MNIST_FILES = DatasetFiles(
    "MNIST",
    (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
    MNIST_MIRRORS,
)
FASHION_MNIST_FILES = DatasetFiles(
    "FashionMNIST",
    (
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
    FASHION_MNIST_MIRRORS,
)
# Looked up at call time by the datamodules, so tests can monkeypatch an entry.
SPECS: Dict[str, DatasetFiles] = {"mnist": MNIST_FILES, "fashion_mnist": FASHION_MNIST_FILES}

# (resolved path, size, mtime_ns) -> md5 of files already hashed by this process; keyed on
# size and mtime so a file replaced on disk is hashed again.
_MD5_CACHE: Dict[Tuple[str, int, int], str] = {}


def file_md5(path: Path) -> str:
    """md5 hex digest of ``path``, memoised per process on (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MD5_CACHE:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
        _MD5_CACHE[key] = h.hexdigest()
    return _MD5_CACHE[key]


def _fetch(url: str, dest: Path, md5: str) -> None:
    """Download ``url`` to ``dest`` atomically; raise on network error or md5 mismatch."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
            for chunk in iter(lambda: r.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != md5:
            raise ValueError(f"md5 {h.hexdigest()} != expected {md5}")
        os.replace(tmp, dest)  # atomic on one filesystem: readers never see a partial file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download(raw_dir: Path, missing: Iterable[Tuple[str, str]], mirrors: Iterable[str]) -> Optional[str]:
    """Try each mirror for each missing file; return a note on the last failure, if any."""
    mirrors = list(mirrors)
    dead: Set[str] = set()  # mirrors that failed to connect are not retried for later files
    note = None
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {raw_dir}: {exc}"
    for name, md5 in missing:
        for mirror in mirrors:
            if mirror in dead:
                continue
            try:
                _fetch(mirror + name, raw_dir / name, md5)
                break
            except (ValueError, urllib.error.HTTPError) as exc:  # mirror up, file bad/absent
                note = f"{mirror}{name}: {exc}"
            except OSError as exc:  # URLError, timeouts, refused connections, disk errors
                dead.add(mirror)
                note = f"{mirror}{name}: {getattr(exc, 'reason', exc)}"
    return note


def _check(raw_dir: Path, spec: DatasetFiles) -> Tuple[List[Tuple[str, str]], List[str]]:
    """Split the spec's files into (missing (name, md5) pairs, corrupt-file descriptions)."""
    missing, corrupt = [], []
    for name, md5 in spec.files:
        path = raw_dir / name
        if not path.is_file():
            missing.append((name, md5))
        elif (got := file_md5(path)) != md5:
            corrupt.append(f"{name} (md5 {got}, expected {md5})")
    return missing, corrupt


def ensure_files(root: Union[str, Path], spec: DatasetFiles, download: bool = True) -> Path:
    """Make sure every file of ``spec`` is in ``root/<folder>/raw`` with the right md5.

    Missing files are downloaded when ``download`` is true; corrupt files are never overwritten
    (a wrong md5 usually means a wrong copy the user should know about). Returns the raw dir.
    """
    raw_dir = spec.raw_dir(root)
    missing, corrupt = _check(raw_dir, spec)
    note = None
    if missing and download and spec.mirrors:
        note = _download(raw_dir, missing, spec.mirrors)
        missing, corrupt = _check(raw_dir, spec)
    if not missing and not corrupt:
        return raw_dir

    problems = []
    if missing:
        problems.append(f"{spec.folder} files missing in {raw_dir}: {', '.join(n for n, _ in missing)}")
    if corrupt:
        problems.append(f"{spec.folder} files corrupt in {raw_dir}: {', '.join(corrupt)}")
    if not missing:
        why = "replace them with the official files"
    elif download:
        why = "no network" + (f", last error {note}" if note else "")
    else:
        why = "download disabled"
    hint = "copy them there, or set NNCOMPRESS_DATA / paths.data_dir to a folder that has them"
    raise DataNotFoundError(f"{'; '.join(problems)} ({why}: {hint})")
