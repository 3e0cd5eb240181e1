"""MNIST and Fashion-MNIST through torchvision's readers, held in memory as normalised tensors.

Where the files go (torchvision's layout, ``root`` = ``data_dir`` = ``${paths.data_dir}``)::

    <data_dir>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data_dir>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz

The ``.gz`` files are md5-checked against torchvision's table (``MNIST.resources``) and unpacked
into a temporary folder for the load (never into ``data_dir``, which may be shared and read-only:
see ``files``). Already unpacked files (``raw/train-images-idx3-ubyte`` ...) without their ``.gz`` are
used as torchvision uses them: its reader checks their header and length, no md5 applies.
torchvision then parses the idx files (``.data`` uint8 [N, 28, 28], ``.targets`` int64); this
module normalises them once, on the training device.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

import torch
from torchvision import datasets

from nncompress.core.errors import UserError

from . import files
from .datamodule import InMemoryDataModule, default_data_dir


class MNISTDataModule(InMemoryDataModule):
    """MNIST or Fashion-MNIST (``name``), normalised, ``[N, 1, 28, 28]``; 60,000 training images
    (``val_size`` of them held out) and 10,000 test images.

    ``DATASETS`` maps ``name`` to the torchvision class that reads it; its ``resources`` (file,
    md5) and ``mirrors`` are the ones used, so a subclass of the datamodule can point at another
    table. ``check_md5=False`` accepts files whose md5 differs (a copy of your own).
    """

    DATASETS: Dict[str, type] = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}
    STATS = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
    input_shape = (1, 28, 28)
    num_classes = 10

    def __init__(
        self,
        name: str = "mnist",
        data_dir: Optional[Union[str, os.PathLike]] = None,
        download: bool = True,
        check_md5: bool = True,
        **kwargs,
    ) -> None:
        if name not in self.STATS or name not in self.DATASETS:
            raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(self.STATS)}")
        super().__init__(**kwargs)
        self.name = name
        self.data_dir = str(data_dir) if data_dir is not None else default_data_dir()
        self.download, self.check_md5 = download, check_md5

    @property
    def dataset_class(self) -> type:
        cls = self.DATASETS[self.name]
        return cls if self.check_md5 else files.without_md5(cls)

    def _check(self) -> Tuple[Path, List[str], List[str], List[str]]:
        """(raw folder, missing .gz names, corrupt descriptions, .gz files still to unpack)."""
        cls = self.dataset_class
        raw = files.as_path(self.data_dir) / cls.__name__ / "raw"
        missing, corrupt, to_unpack = [], [], []
        for gz, md5 in cls.resources:
            packed, plain = raw / gz, raw / os.path.splitext(gz)[0]
            if packed.is_file():
                problem = files.md5_problem(packed, md5)
                if problem:
                    corrupt.append(problem)
                elif not plain.is_file():
                    to_unpack.append(gz)
            elif not plain.is_file():
                missing.append(gz)
        return raw, missing, corrupt, to_unpack

    def ensure_files(self) -> Tuple[Path, List[str]]:
        """Check the files (fetching missing ones if ``download`` and a mirror answers); return
        the raw folder and the ``.gz`` files still to unpack, or raise :class:`DataNotFoundError`."""
        raw, missing, corrupt, to_unpack = self._check()
        why = "download disabled"
        if missing and not corrupt and self.download:
            cls = self.dataset_class
            expected = [(raw / gz, md5) for gz, md5 in cls.resources]
            note = files.fetch(lambda: cls(self.data_dir, train=True, download=True), cls.mirrors, expected)
            why = note or "the download did not bring them"
            raw, missing, corrupt, to_unpack = self._check()
        if missing or corrupt:
            raise files.not_found(self.dataset_class.__name__, raw, missing, corrupt, why)
        return raw, to_unpack

    def prepare_data(self) -> None:
        # Lightning calls this on one process only: the place for downloads.
        self.ensure_files()

    @contextlib.contextmanager
    def _root(self) -> Iterator[str]:
        """A root from which torchvision's class reads every file unpacked."""
        raw, to_unpack = self.ensure_files()
        if not to_unpack:
            yield self.data_dir
            return
        with files.scratch() as tmp:  # unpack this load's files there, link the unpacked ones
            tmp_raw = tmp / raw.parent.name / "raw"
            tmp_raw.mkdir(parents=True)
            for gz, _ in self.dataset_class.resources:
                if gz in to_unpack:
                    files.unpack_into(raw / gz, tmp_raw)
                else:
                    plain = os.path.splitext(gz)[0]
                    (tmp_raw / plain).symlink_to((raw / plain).resolve())
            yield str(tmp)

    def load_raw(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 images ``[N, 28, 28]`` and int64 labels: train images, labels, test images, labels."""
        with self._root() as root:
            try:
                train = self.dataset_class(root, train=True)
                test = self.dataset_class(root, train=False)
            except Exception as exc:  # torchvision asserts on malformed idx headers
                folder = Path(root) / self.dataset_class.__name__ / "raw"
                raise UserError(f"{folder}: not readable as {self.name} idx files ({files.one_line(exc)})") from exc
        return train.data, train.targets.long(), test.data, test.targets.long()

    def _transform(self, images: torch.Tensor) -> torch.Tensor:
        # uint8 [N,28,28] -> float32 [N,1,28,28]; (p/255 - mean)/std folded into one scale+shift.
        mean, std = self.STATS[self.name]
        x = images.unsqueeze(1).to(torch.float32)
        return x.mul_(1.0 / (255.0 * std)).sub_(mean / std)

    def _load(self):
        return self.load_raw()
