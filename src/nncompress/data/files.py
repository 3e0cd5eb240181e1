"""Raw files for torchvision's dataset readers: check them, unpack them, fetch them only if a mirror answers.

torchvision reads each data set from its own layout under a root folder (``MNIST/raw/``,
``cifar-10-batches-py/``, ...), md5-checks what it downloads and can download. Around it this
module adds what a run needs to fail early and clearly:

* a missing or corrupt file raises one line, :class:`DataNotFoundError`, naming the folder and the
  files to put there (torchvision raises "Dataset not found" without either, or a traceback from
  deep inside urllib);
* the network is used only when a mirror accepts a connection within ``PROBE_TIMEOUT_S``, and
  torchvision's download runs under a socket timeout (its ``urlopen`` has none, so a black-holed
  network would hang it); a file that is present but has the wrong md5 is reported and never
  overwritten (a wrong copy is something the user should know about);
* compressed files are unpacked into a temporary folder for each load (torchvision would unpack
  next to the archive, i.e. write into the data folder, which may be shared, read-only, or read by
  concurrent jobs of a sweep); the data folder is written only by a download (``download=true``
  and files missing). Unpacking costs about a second per load, as the decompression in memory of
  the readers this replaced did.

Overriding the md5s torchvision checks: each datamodule reads its files through a torchvision
class held in a class attribute (``MNISTDataModule.DATASETS``, ``CIFAR10DataModule.dataset_class``),
whose md5 tables (``resources``; ``tgz_md5``, ``train_list``, ``test_list``, ``meta``) are the ones
checked. A copy that is not the official one (re-packed, or a test's small files) either names its
md5s in a subclass of that torchvision class (same ``__name__``, so the same folder) set on a
subclass of the datamodule, or is read with ``check_md5=false`` (:func:`without_md5`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlparse

from torchvision.datasets.utils import calculate_md5, extract_archive

from nncompress.core.errors import UserError

DOWNLOAD_TIMEOUT_S = 10.0  # per socket operation of torchvision's download
PROBE_TIMEOUT_S = 3.0  # to learn whether any mirror is reachable at all
HINT = "copy them there, or set NNCOMPRESS_DATA / paths.data_dir to a folder that has them"


class DataNotFoundError(FileNotFoundError):
    """Dataset files missing or corrupt and not fetchable; the message is one line for the user.
    (Files that are there but unreadable raise ``core.errors.UserError``: also one line from run.py.)"""


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def md5_problem(path: Path, md5: Optional[str]) -> Optional[str]:
    """``None`` if ``path`` is a file with md5 ``md5`` (any content when ``md5`` is None), else why not."""
    if not path.is_file():
        return f"{path.name} (missing)"
    if md5 is None:
        return None
    got = calculate_md5(path)
    return None if got == md5 else f"{path.name} (md5 {got}, expected {md5})"


def not_found(what: str, folder: Path, missing: Sequence[str], corrupt: Sequence[str], why: str) -> DataNotFoundError:
    """The one-line error: which files are missing or corrupt in which folder, why, what to do."""
    problems = []
    if missing:
        problems.append(f"{what} files missing in {folder}: {', '.join(missing)}")
    if corrupt:
        problems.append(f"{what} files corrupt in {folder}: {', '.join(corrupt)}")
    if not missing:  # never overwritten: a wrong copy is something the user should know about
        return DataNotFoundError(f"{'; '.join(problems)} (replace them with the official files, "
                                 "or set check_md5=false to read a copy of your own)")
    return DataNotFoundError(f"{'; '.join(problems)} ({why}: {HINT})")


def without_md5(dataset_class: type) -> type:
    """A subclass of a torchvision dataset class whose md5 tables are all ``None`` (torchvision
    then only checks that the files exist). Same ``__name__``: MNIST-style classes name their
    folder after the class."""
    attrs = {}
    if hasattr(dataset_class, "resources"):  # MNIST, FashionMNIST: [(file.gz, md5)]
        attrs["resources"] = [(name, None) for name, _ in dataset_class.resources]
    if hasattr(dataset_class, "train_list"):  # CIFAR10, CIFAR100: [[member, md5]], meta, archive
        attrs["train_list"] = [[name, None] for name, _ in dataset_class.train_list]
        attrs["test_list"] = [[name, None] for name, _ in dataset_class.test_list]
        attrs["meta"] = {**dataset_class.meta, "md5": None}
        attrs["tgz_md5"] = None
    return type(dataset_class.__name__, (dataset_class,), attrs)


def _connects(url: str, timeout: float) -> bool:
    parts = urlparse(url)
    if parts.scheme == "file":
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ok: List[bool] = []

    def attempt() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok)


def reachable(urls: Iterable[str], timeout: float = PROBE_TIMEOUT_S) -> Optional[str]:
    """``None`` if some URL's host accepts a connection within ``timeout`` (``file://`` always
    does), else a note for the error message."""
    urls = list(urls)
    if any(_connects(u, timeout) for u in urls):
        return None
    hosts = sorted({urlparse(u).hostname or u for u in urls})
    return f"no network: cannot reach {', '.join(hosts)}"


def fetch(download: Callable[[], object], urls: Iterable[str],
          expected: Sequence[Tuple[Path, Optional[str]]] = ()) -> Optional[str]:
    """Run ``download`` (a torchvision ``download=True`` construction) if a mirror answers, under a
    socket timeout. Returns ``None`` when it ran through, else a one-line note why not.

    ``expected``: the (path, md5) of files absent before the call. torchvision writes a download in
    place, so a failed one leaves a partial file; those that now fail their md5 are removed (they
    are this call's, not the user's), so the next attempt is not refused as "corrupt".
    """
    note = reachable(urls)
    if note:
        return note
    absent = [(p, m) for p, m in expected if not p.exists()]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        download()
    except Exception as exc:  # urllib, md5 and disk errors all mean "not fetched"; the caller rechecks
        note = f"download failed: {one_line(exc)}"
    finally:
        socket.setdefaulttimeout(previous)
        for path, md5 in absent:
            if path.exists() and md5_problem(path, md5):
                path.unlink()
    return note


def unpack_into(archive: Path, folder: Path) -> None:
    """Unpack ``archive`` (``.gz`` or ``.tar.gz``) into ``folder`` by torchvision's ``extract_archive``."""
    try:
        extract_archive(str(archive), str(folder))
    except Exception as exc:  # gzip / tar errors: a corrupt archive whose md5 was not checked
        raise UserError(f"{archive}: cannot unpack ({one_line(exc)})") from exc


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A temporary folder for one load's unpacked files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="nncompress-data-") as tmp:
        yield Path(tmp)


def as_path(root: Union[str, os.PathLike]) -> Path:
    return Path(root).expanduser()
