"""CIFAR-10 / CIFAR-100 from the official python-pickle archives, as in-memory tensors.

Source: Krizhevsky, "Learning Multiple Layers of Features from Tiny Images" (2009); the archives
and their layout are those published at https://www.cs.toronto.edu/~kriz/cifar.html.

Where the files go (the MNIST convention of this project, ``<data_dir>/<folder>/raw``)::

    <data_dir>/CIFAR10/raw/cifar-10-python.tar.gz        md5 c58f30108f718f92721af3b95e74349a
    <data_dir>/CIFAR100/raw/cifar-100-python.tar.gz      md5 eb9058c3a382ffc7106e4002c42a8d85

An already-extracted copy next to the archive is used when the archive itself is absent
(no md5 check is possible then)::

    <data_dir>/CIFAR10/raw/cifar-10-batches-py/{data_batch_1..5, test_batch}
    <data_dir>/CIFAR100/raw/cifar-100-python/{train, test}

Archive layout: every member is a pickled dict (Python 2, so unpickled with ``encoding="bytes"``):
``b"data"`` is a uint8 array ``[N, 3072]``, one image per row stored as three 1024-byte channel
planes (R, G, B), each plane row-major over 32 x 32, so ``reshape(N, 3, 32, 32)`` gives NCHW.
Labels are a list of ints: ``b"labels"`` (CIFAR-10, 10 classes), ``b"fine_labels"`` (100 classes)
and ``b"coarse_labels"`` (20 superclasses) for CIFAR-100. The ``batches.meta`` / ``meta`` members
(class names) are not needed and not read.

Training batches are augmented on the device, per batch, as in the public recipes (paper 003's
code: ``Pad(4)`` with black pixels, ``RandomCrop(32)``, ``RandomHorizontalFlip``, then
``Normalize(0.5, 0.5)``): see :class:`RandomCropFlipLoader`.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .datamodule import Batch, InMemoryDataModule, TensorBatchLoader, default_data_dir
from .download import DatasetFiles, ensure_files

__all__ = [
    "CIFAR10_FILES",
    "CIFAR100_FILES",
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "CIFARDataModule",
    "RandomCropFlipLoader",
    "SPECS",
    "random_crop_flip",
    "read_cifar_batch",
]

CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
CIFAR10_FILES = DatasetFiles(
    "CIFAR10", (("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),), CIFAR_MIRRORS
)
CIFAR100_FILES = DatasetFiles(
    "CIFAR100", (("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),), CIFAR_MIRRORS
)
# Looked up at call time by the datamodules, so tests can monkeypatch an entry.
SPECS: Dict[str, DatasetFiles] = {"cifar10": CIFAR10_FILES, "cifar100": CIFAR100_FILES}

_IMAGE_SHAPE = (3, 32, 32)
_ROW_BYTES = 3 * 32 * 32

# The only globals a CIFAR pickle may name: numpy's array reconstruction (numpy 1 and 2 module
# paths) and the bytes helper Python 3 pickles (protocol <= 2) use. Anything else is refused, so
# a tampered archive cannot run code on load.
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}")
        return super().find_class(module, name)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_cifar_batch(
    payload: bytes, label_key: bytes, num_classes: int, source: str
) -> Tuple[np.ndarray, np.ndarray]:
    """Unpickle one CIFAR member and return ``(uint8 [N, 3, 32, 32], int64 [N])``.

    Only ``b"data"`` and ``label_key`` are read. Anything malformed raises a one-line
    ``ValueError`` that starts with ``source`` (the file, or ``archive:member``).
    """
    try:
        obj = _RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on garbage; all mean "not a CIFAR pickle"
        raise ValueError(f"{source}: not a CIFAR python pickle ({_one_line(exc)})") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: expected a pickled dict, got {type(obj).__name__}")
    missing = [k for k in (b"data", label_key) if k not in obj]
    if missing:
        raise ValueError(f"{source}: missing key(s) {missing}; has {sorted(map(repr, obj))}")
    data = obj[b"data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == _ROW_BYTES):
        got = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{source}: b'data' must be a uint8 array [N, {_ROW_BYTES}], got {got}")
    try:
        labels = np.asarray(obj[label_key])
    except ValueError as exc:  # ragged lists
        raise ValueError(f"{source}: {label_key!r} is not a list of ints ({_one_line(exc)})") from exc
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(data):
        raise ValueError(
            f"{source}: {label_key!r} must be {len(data)} ints, got {labels.dtype} {list(labels.shape)}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{source}: {label_key!r} outside [0, {num_classes}): min {labels.min()}, max {labels.max()}"
        )
    # Rows are [R plane | G plane | B plane], each row-major: a view, no per-image loop.
    return data.reshape(-1, *_IMAGE_SHAPE), labels.astype(np.int64)


def _archive_members(path: Path, inner_dir: str, names: Sequence[str]) -> Iterator[Tuple[str, bytes]]:
    """Yield ``(name, bytes)`` for the wanted members in one forward pass over the tar.gz.

    Members are read into memory, never extracted to disk (no path-traversal concerns).
    """
    wanted = {f"{inner_dir}/{n}": n for n in names}
    found = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is None or not member.isfile():
                    continue
                fileobj = tar.extractfile(member)
                assert fileobj is not None  # regular files always have one
                found.add(name)
                yield name, fileobj.read()
                if len(found) == len(wanted):
                    break  # skip decompressing the rest
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(f"{path}: unreadable tar.gz archive ({_one_line(exc)})") from exc
    lacking = [f"{inner_dir}/{n}" for n in names if n not in found]
    if lacking:
        raise ValueError(f"{path}: archive lacks {', '.join(lacking)}")


def random_crop_flip(
    x: torch.Tensor,
    generator: torch.Generator,
    padding: int = 4,
    flip: bool = True,
    fill: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Pad ``x`` [N, C, H, W] by ``padding`` with ``fill`` (per channel), crop H x W at a random
    offset per image, then mirror each image left-right with probability 1/2 (if ``flip``).

    The random numbers come from ``generator`` on the CPU, so they do not depend on the device;
    the image work is one gather on ``x``'s device. Offsets are uniform over the 2·padding+1
    positions per axis, as torchvision's ``Pad`` + ``RandomCrop`` draw them.
    """
    n, c, h, w = x.shape
    dev = x.device
    shifts = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    mirror = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    fill_c = torch.zeros(c, dtype=x.dtype, device=dev) if fill is None else fill.to(dev, x.dtype)
    padded = fill_c.view(1, c, 1, 1).expand(n, c, h + 2 * padding, w + 2 * padding).clone()
    padded[:, :, padding : padding + h, padding : padding + w] = x
    rows = shifts[0].to(dev)[:, None] + torch.arange(h, device=dev)  # [N, H] rows of the window
    cols = shifts[1].to(dev)[:, None] + torch.arange(w, device=dev)  # [N, W]
    cols = torch.where(mirror.to(dev)[:, None], cols.flip(1), cols)  # mirrored window
    idx_n = torch.arange(n, device=dev).view(n, 1, 1, 1)
    idx_c = torch.arange(c, device=dev).view(1, c, 1, 1)
    return padded[idx_n, idx_c, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def _augment_seed(seed: int, epoch: int) -> int:
    # A separate stream from the shuffle permutation (seeded seed + epoch), mixed so nearby
    # (seed, epoch) pairs do not share draws.
    return (seed * 0x9E3779B1 + epoch * 0x85EBCA6B + 0x2545F491) % (1 << 63)


class RandomCropFlipLoader(TensorBatchLoader):
    """A :class:`TensorBatchLoader` whose batches get :func:`random_crop_flip`.

    Each ``iter()`` seeds a CPU generator from ``(seed, epoch)`` and draws per batch, so the
    same seed and epoch give the same batches on any device. ``epoch`` advances per ``iter()``
    (also without shuffling, so every epoch sees new crops).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        padding: int = 4,
        flip: bool = True,
        fill: Optional[Union[float, Sequence[float], torch.Tensor]] = None,
    ) -> None:
        super().__init__(x, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding, self.flip = padding, flip
        channels = x.shape[1] if x.dim() == 4 else 1
        value = 0.0 if fill is None else fill
        self.fill = torch.as_tensor(value, dtype=torch.float32).flatten().expand(channels).clone()

    def __iter__(self) -> Iterator[Batch]:
        gen = torch.Generator().manual_seed(_augment_seed(self.seed, self.epoch))
        batches = super().__iter__()  # advances epoch itself when shuffling
        if not self.shuffle:
            self.epoch += 1
        for x, y in batches:
            yield random_crop_flip(x, gen, self.padding, self.flip, self.fill), y


class CIFARDataModule(InMemoryDataModule):
    """Base of the CIFAR datamodules: locate, verify, unpickle, normalise, augment.

    ``normalization`` picks per-channel (mean, std) of pixels in [0, 1] from ``STATS``:
    ``"half"`` (0.5, 0.5; paper 003's public code, the default), ``"standard"`` (the training-set
    statistics, the usual choice for ResNet-18) or ``"none"`` (pixels / 255); ``mean`` and
    ``std`` given together override it. ``augment`` turns the training-batch crop + flip on/off;
    validation and test batches are never augmented.
    """

    spec_key: str = ""
    archive_dir: str = ""  # top folder inside the archive (and of an extracted copy)
    train_members: Tuple[str, ...] = ()
    test_members: Tuple[str, ...] = ()
    label_key: bytes = b"labels"
    input_shape = _IMAGE_SHAPE
    STATS: Dict[str, Tuple[Tuple[float, ...], Tuple[float, ...]]] = {}

    def __init__(
        self,
        data_dir: Optional[Union[str, os.PathLike]] = None,
        download: bool = True,
        normalization: str = "half",
        mean: Optional[Sequence[float]] = None,
        std: Optional[Sequence[float]] = None,
        augment: bool = True,
        crop_padding: int = 4,
        name: Optional[str] = None,
        **kwargs,
    ) -> None:
        # conf/dataset/*.yaml names the data set (cfg.dataset.name); it must be this module's
        if name is not None and name != type(self).name:
            raise ValueError(f"{type(self).__name__} reads {type(self).name!r}, not {name!r}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        if mean is None and normalization not in self.STATS:
            raise ValueError(f"unknown normalization {normalization!r}; expected one of {sorted(self.STATS)}")
        super().__init__(**kwargs)
        self.data_dir = str(data_dir) if data_dir is not None else default_data_dir()
        self.download = download
        m, s = (mean, std) if mean is not None else self.STATS[normalization]
        self.mean, self.std = self._per_channel(m, "mean"), self._per_channel(s, "std")
        if any(v <= 0 for v in self.std):
            raise ValueError(f"std must be > 0, got {self.std}")
        self.augment, self.crop_padding = augment, crop_padding

    @staticmethod
    def _per_channel(values: Union[float, Sequence[float]], what: str) -> Tuple[float, float, float]:
        vals = [float(values)] * 3 if isinstance(values, (int, float)) else [float(v) for v in values]
        if len(vals) == 1:
            vals = vals * 3
        if len(vals) != 3:
            raise ValueError(f"{what} needs 1 or 3 values, got {len(vals)}")
        return tuple(vals)  # type: ignore[return-value]

    def _locate(self) -> Path:
        """The verified archive, or the extracted folder when only that is present."""
        spec = SPECS[self.spec_key]
        raw = spec.raw_dir(self.data_dir)
        archive, extracted = raw / spec.filenames[0], raw / self.archive_dir
        members = self.train_members + self.test_members
        if not archive.exists() and all((extracted / n).is_file() for n in members):
            return extracted
        return ensure_files(self.data_dir, spec, self.download) / spec.filenames[0]

    def prepare_data(self) -> None:
        # Lightning calls this on one process only: the place for downloads.
        self._locate()

    def load_raw(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 images ``[N, 3, 32, 32]`` and int64 labels: train images, labels, test images, labels."""
        source = self._locate()
        members = self.train_members + self.test_members
        if source.is_dir():
            payloads = ((n, (source / n).read_bytes(), str(source / n)) for n in members)
        else:
            payloads = (
                (n, b, f"{source}:{self.archive_dir}/{n}")
                for n, b in _archive_members(source, self.archive_dir, members)
            )
        parts = {n: read_cifar_batch(b, self.label_key, self.num_classes, where) for n, b, where in payloads}

        def stack(names: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
            # concatenate copies into one fresh, writable array (also for a single member)
            x = np.concatenate([parts[n][0] for n in names])
            y = np.concatenate([parts[n][1] for n in names])
            return torch.from_numpy(x), torch.from_numpy(y)

        return (*stack(self.train_members), *stack(self.test_members))

    def _load(self):
        return self.load_raw()

    def _fill(self) -> torch.Tensor:
        """The normalised value of a black pixel: what the public recipe pads with."""
        return torch.tensor([-m / s for m, s in zip(self.mean, self.std)], dtype=torch.float32)

    def _transform(self, images: torch.Tensor) -> torch.Tensor:
        # uint8 -> float32 on the device; (p/255 - mean)/std folded into one scale + shift.
        dev = images.device
        scale = torch.tensor([1.0 / (255.0 * s) for s in self.std], device=dev).view(1, 3, 1, 1)
        shift = torch.tensor([m / s for m, s in zip(self.mean, self.std)], device=dev).view(1, 3, 1, 1)
        return images.to(torch.float32).mul_(scale).sub_(shift)

    def train_dataloader(self) -> TensorBatchLoader:
        loader = super().train_dataloader()
        if not self.augment:
            return loader
        aug = RandomCropFlipLoader(
            loader.x, loader.y, loader.batch_size, shuffle=loader.shuffle, seed=loader.seed,
            drop_last=loader.drop_last, padding=self.crop_padding, flip=True, fill=self._fill(),
        )
        aug.set_epoch(loader.epoch)  # keep the base class's resume-aware starting epoch
        return aug


class CIFAR10DataModule(CIFARDataModule):
    """CIFAR-10: 50,000 training and 10,000 test images of 10 classes, ``[N, 3, 32, 32]``.

    ``STATS["standard"]`` is the per-channel mean / std of the 50,000 training images. Many
    CIFAR ResNet-18 recipes (e.g. kuangliu/pytorch-cifar) pass std (0.2023, 0.1994, 0.2010)
    instead; give ``mean``/``std`` explicitly to match one of those.
    """

    name = "cifar10"
    num_classes = 10
    spec_key = "cifar10"
    archive_dir = "cifar-10-batches-py"
    train_members = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_members = ("test_batch",)
    label_key = b"labels"
    STATS = {
        "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        "standard": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
        "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    }


class CIFAR100DataModule(CIFARDataModule):
    """CIFAR-100: 50,000 / 10,000 images; ``labels="fine"`` (100 classes, default) or
    ``"coarse"`` (20 superclasses; the module's ``name`` becomes ``cifar100_coarse``)."""

    name = "cifar100"
    num_classes = 100
    spec_key = "cifar100"
    archive_dir = "cifar-100-python"
    train_members = ("train",)
    test_members = ("test",)
    label_key = b"fine_labels"
    STATS = {
        "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        "standard": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
        "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    }

    def __init__(self, labels: str = "fine", **kwargs) -> None:
        if labels not in ("fine", "coarse"):
            raise ValueError(f"labels must be 'fine' or 'coarse', got {labels!r}")
        super().__init__(**kwargs)
        self.labels = labels
        if labels == "coarse":
            self.name, self.num_classes, self.label_key = "cifar100_coarse", 20, b"coarse_labels"
