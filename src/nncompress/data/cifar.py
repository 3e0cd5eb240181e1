"""CIFAR-10 / CIFAR-100 through torchvision's readers, held in memory as tensors; augmented on the device.

Source: Krizhevsky, "Learning Multiple Layers of Features from Tiny Images" (2009); the archives
and their layout are those published at https://www.cs.toronto.edu/~kriz/cifar.html.

Where the files go (torchvision's layout, ``root`` = ``data_dir`` = ``${paths.data_dir}``)::

    <data_dir>/cifar-10-python.tar.gz        md5 c58f30108f718f92721af3b95e74349a
    <data_dir>/cifar-100-python.tar.gz       md5 eb9058c3a382ffc7106e4002c42a8d85

or their extracted folders, each member md5-checked against torchvision's table::

    <data_dir>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    <data_dir>/cifar-100-python/{train, test, meta}

A verified extracted folder is read in place; otherwise the archive is md5-checked and unpacked
into a temporary folder for the load (never into ``data_dir``, which may be shared and read-only:
see ``files``).
torchvision then unpickles the batches (``.data`` uint8 [N, 32, 32, 3], ``.targets``); this module
turns them into NCHW tensors and normalises them once, on the training device. torchvision
unpickles without restriction, which is safe only for files whose md5 is the official one: a
tampered file fails the md5 check before it is opened. (``check_md5=false`` gives that up, for a
copy of your own.) CIFAR-100's coarse labels (20 superclasses), which torchvision does not read,
are read here from the same, already verified, pickles.

Training batches are augmented on the device, per batch, as in the public recipes (paper 003's
code: ``Pad(4)`` with black pixels, ``RandomCrop(32)``, ``RandomHorizontalFlip``, then
``Normalize(0.5, 0.5)``): see :class:`RandomCropFlipLoader`. torchvision's transforms work per PIL
image on the CPU; here one gather per batch does the same on the GPU.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torchvision import datasets

from nncompress.core.errors import UserError

from . import files
from .datamodule import Batch, InMemoryDataModule, TensorBatchLoader, default_data_dir, rank_rows

__all__ = [
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "CIFARDataModule",
    "RandomCropFlipLoader",
    "random_crop_flip",
]

_IMAGE_SHAPE = (3, 32, 32)


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
    """Base of the CIFAR datamodules: locate, verify, read (torchvision), normalise, augment.

    ``dataset_class`` is the torchvision class that reads the files; its md5 tables (``tgz_md5``,
    ``train_list``, ``test_list``, ``meta``) are the ones checked, so a subclass of the datamodule
    with a subclass of it reads a copy with other md5s (see ``files``); ``check_md5=False`` checks
    none. ``normalization`` picks per-channel (mean, std) of pixels in [0, 1] from ``STATS``:
    ``"half"`` (0.5, 0.5; paper 003's public code, the default), ``"standard"`` (the training-set
    statistics, the usual choice for ResNet-18) or ``"none"`` (pixels / 255); ``mean`` and
    ``std`` given together override it. ``augment`` turns the training-batch crop + flip on/off;
    validation and test batches are never augmented.
    """

    dataset_class: type = datasets.CIFAR10
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
        check_md5: bool = True,
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
        self.download, self.check_md5 = download, check_md5
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

    @property
    def reader(self) -> type:
        """The torchvision class that reads the files (md5s cleared when ``check_md5`` is off)."""
        return self.dataset_class if self.check_md5 else files.without_md5(self.dataset_class)

    def _members(self) -> List[Tuple[str, Optional[str]]]:
        cls = self.reader
        return [(n, m) for n, m in cls.train_list + cls.test_list] + [(cls.meta["filename"], cls.meta["md5"])]

    def _problems(self, root: Path) -> List[str]:
        folder = root / self.reader.base_folder
        return [p for n, m in self._members() if (p := files.md5_problem(folder / n, m))]

    def _error(self, root: Path, missing: List[str], corrupt: List[str], why: str) -> files.DataNotFoundError:
        err = files.not_found(type(self).name.upper(), root, missing, corrupt, why)
        old = root / type(self).name.upper() / "raw"  # this project's layout before torchvision's
        if old.is_dir():
            err = files.DataNotFoundError(f"{err} (found {old}: move its contents up to {root})")
        return err

    def ensure_files(self) -> Tuple[Path, bool]:
        """``(root, unpack)``: the verified extracted folder is under ``root`` (``unpack`` false),
        or the verified archive ``root/<filename>`` is to be unpacked. Fetches when ``download``
        and a mirror answers; else raises :class:`DataNotFoundError`."""
        cls = self.reader
        root = files.as_path(self.data_dir)
        problems = self._problems(root)
        if not problems:
            return root, False
        archive = root / cls.filename
        if archive.is_file():
            bad = files.md5_problem(archive, cls.tgz_md5)
            if bad:
                raise self._error(root, [], [bad], "")
            return root, True
        folder = f"{cls.base_folder}/"
        corrupt = [folder + p for p in problems if not p.endswith("(missing)")]
        listing = ", ".join(n for n, _ in self._members())
        missing = [f"{cls.filename} (or its extracted {folder} with {listing})"]
        why = "download disabled"
        if not corrupt and self.download:
            expected = [(archive, cls.tgz_md5)]
            why = files.fetch(lambda: cls(str(root), train=True, download=True), [cls.url], expected)
            if why is None and not self._problems(root):
                return root, False
            why = why or "the download did not bring them"
        raise self._error(root, [] if corrupt else missing, corrupt, why)

    def prepare_data(self) -> None:
        # Lightning calls this on one process only: the place for downloads.
        self.ensure_files()

    @contextlib.contextmanager
    def _root(self) -> Iterator[Tuple[Path, str]]:
        """A root whose extracted folder holds every verified member, and what to call it in errors."""
        root, unpack = self.ensure_files()
        if not unpack:
            yield root, str(root / self.reader.base_folder)
            return
        archive = root / self.reader.filename
        with files.scratch() as target:
            files.unpack_into(archive, target)
            problems = self._problems(target)
            if problems:  # the archive's md5 was right (or unchecked) but its members are not
                raise files.DataNotFoundError(
                    f"{archive} lacks or holds wrong members of {self.reader.base_folder}/: {', '.join(problems)}"
                )
            yield target, f"{archive}:{self.reader.base_folder}"

    def _read(self, root: Path, source: str, train: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        cls = self.reader
        try:
            ds = cls(str(root), train=train)
            x = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))  # NHWC -> NCHW
            y = torch.as_tensor(ds.targets if self.label_key is None else self._labels(root, train), dtype=torch.int64)
        except Exception as exc:  # a file that passed (or skipped) the md5 check but is malformed
            raise UserError(f"{source}: not readable as {self.name} ({files.one_line(exc)})") from exc
        if len(y) != len(x) or x.shape[1:] != _IMAGE_SHAPE:
            raise UserError(f"{source}: {len(x)} images of {list(x.shape[1:])}, {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
            raise UserError(
                f"{source}: labels outside [0, {self.num_classes}): min {y.min()}, max {y.max()}"
            )
        return x, y

    label_key: Optional[str] = None  # a label list torchvision does not read (CIFAR-100 coarse)

    def _labels(self, root: Path, train: bool) -> List[int]:
        cls = self.reader
        labels: List[int] = []
        for name, _ in cls.train_list if train else cls.test_list:
            with open(root / cls.base_folder / name, "rb") as f:
                labels.extend(pickle.load(f, encoding="latin1")[self.label_key])  # md5-verified above
        return labels

    def load_raw(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 images ``[N, 3, 32, 32]`` and int64 labels: train images, labels, test images, labels."""
        with self._root() as (root, source):
            return (*self._read(root, source, True), *self._read(root, source, False))

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
        return rank_rows(aug, getattr(self, "trainer", None))  # augment the global batch, then cut


class CIFAR10DataModule(CIFARDataModule):
    """CIFAR-10: 50,000 training and 10,000 test images of 10 classes, ``[N, 3, 32, 32]``.

    ``STATS["standard"]`` is the per-channel mean / std of the 50,000 training images. Many
    CIFAR ResNet-18 recipes (e.g. kuangliu/pytorch-cifar) pass std (0.2023, 0.1994, 0.2010)
    instead; give ``mean``/``std`` explicitly to match one of those.
    """

    name = "cifar10"
    num_classes = 10
    dataset_class = datasets.CIFAR10
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
    dataset_class = datasets.CIFAR100
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
            self.name, self.num_classes, self.label_key = "cifar100_coarse", 20, "coarse_labels"
