"""In-memory Lightning datamodules: whole datasets live as tensors on the training device."""

from __future__ import annotations

import math
import os
from typing import Iterator, Optional, Sequence, Tuple, Union

import lightning as L
import torch

from . import download
from .idx import read_idx

Batch = Tuple[torch.Tensor, torch.Tensor]


class TensorBatchLoader:
    """Iterates ``(x, y)`` batches of in-memory tensors, with no DataLoader or workers.

    With ``shuffle=True`` each ``iter()`` draws a fresh permutation from a CPU generator
    seeded with ``seed + epoch`` (so the order does not depend on the device) and then
    advances ``epoch``. Lightning accepts any sized iterable as a dataloader; its move to the
    device is a no-op for tensors already there. Note: no distributed sampler is injected,
    so under DDP every rank sees the full set.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y lengths differ: {len(x)} vs {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose permutation the next ``iter()`` uses (for resuming)."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n, bs = len(self.x), self.batch_size
        order = None
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=gen).to(self.x.device)
            self.epoch += 1
        for start in range(0, len(self) * bs, bs):
            if order is None:  # contiguous slices are views: no copy at all
                yield self.x[start : start + bs], self.y[start : start + bs]
            else:
                idx = order[start : start + bs]
                yield self.x[idx], self.y[idx]


def resolve_device(device: Union[str, torch.device]) -> torch.device:
    """``"auto"`` -> cuda if available else cpu; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class InMemoryDataModule(L.LightningDataModule):
    """Base class: subclasses implement ``_load()``; this class splits, stores and serves.

    ``val_size`` examples are held out of the training pool by a permutation seeded with
    ``split_seed``. With ``val_size=0``, ``has_val`` is False and ``val_dataloader`` returns
    an empty loader; callers should then set ``limit_val_batches=0`` on the Trainer.
    """

    name: str = "in_memory"
    input_shape: Tuple[int, ...] = ()
    num_classes: int = 0

    def __init__(
        self,
        batch_size: int = 200,
        eval_batch_size: int = 1000,
        val_size: int = 5000,
        split_seed: int = 0,
        shuffle_seed: int = 0,
        device: Union[str, torch.device] = "auto",
    ) -> None:
        super().__init__()
        if val_size < 0:
            raise ValueError(f"val_size must be >= 0, got {val_size}")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_size, self.split_seed, self.shuffle_seed = val_size, split_seed, shuffle_seed
        self.device = resolve_device(device)
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = None

    @property
    def has_val(self) -> bool:
        return self.val_size > 0

    def _load(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return CPU tensors ``(x_train_pool, y_train_pool, x_test, y_test)``."""
        raise NotImplementedError

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        """Per-split input transform, applied after the split (splitting compact raw data is cheaper)."""
        return x

    def setup(self, stage: Optional[str] = None) -> None:
        """Load and split once; later calls (one per Trainer stage) do nothing."""
        if self.x_train is not None:
            return
        x_pool, y_pool, x_test, y_test = self._load()
        n = len(x_pool)
        if self.val_size >= n:
            raise ValueError(f"val_size={self.val_size} leaves no training data out of {n}")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        # Sorted indices keep the original order within each split (val_size=0 -> identity).
        val_idx, train_idx = perm[: self.val_size].sort().values, perm[self.val_size :].sort().values
        self.x_train, self.y_train = x_pool[train_idx], y_pool[train_idx]
        self.x_val, self.y_val = x_pool[val_idx], y_pool[val_idx]
        self.x_test, self.y_test = x_test, y_test
        # Move the raw (compact) data first, then transform on the device.
        self.move_to(self.device)
        self.x_train, self.x_val = self._transform(self.x_train), self._transform(self.x_val)
        self.x_test = self._transform(self.x_test)

    def move_to(self, device: Union[str, torch.device]) -> InMemoryDataModule:
        """Move every loaded tensor to ``device`` (also where later loads will go)."""
        self.device = resolve_device(device)
        for attr in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            t = getattr(self, attr)
            if t is not None:
                setattr(self, attr, t.to(self.device))
        return self

    def _require_setup(self) -> None:
        if self.x_train is None:
            self.setup()

    def train_dataloader(self) -> TensorBatchLoader:
        self._require_setup()
        loader = TensorBatchLoader(
            self.x_train, self.y_train, self.batch_size, shuffle=True, seed=self.shuffle_seed
        )
        # Lightning calls this once per fit (or per reload): start at the trainer's epoch so
        # reloads and resumed runs do not replay epoch 0's order.
        trainer = getattr(self, "trainer", None)
        loader.set_epoch(trainer.current_epoch if trainer is not None else 0)
        return loader

    def val_dataloader(self) -> TensorBatchLoader:
        self._require_setup()
        return TensorBatchLoader(self.x_val, self.y_val, self.eval_batch_size)

    def test_dataloader(self) -> TensorBatchLoader:
        self._require_setup()
        return TensorBatchLoader(self.x_test, self.y_test, self.eval_batch_size)


def default_data_dir() -> str:
    return os.environ.get("NNCOMPRESS_DATA", "data")


class MNISTDataModule(InMemoryDataModule):
    """MNIST or Fashion-MNIST from the raw idx ``.gz`` files, normalised, ``[N, 1, 28, 28]``."""

    STATS = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
    input_shape = (1, 28, 28)
    num_classes = 10

    def __init__(
        self,
        name: str = "mnist",
        data_dir: Optional[Union[str, os.PathLike]] = None,
        download: bool = True,
        **kwargs,
    ) -> None:
        if name not in self.STATS:
            raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(self.STATS)}")
        super().__init__(**kwargs)
        self.name = name
        self.data_dir = str(data_dir) if data_dir is not None else default_data_dir()
        self.download = download

    def prepare_data(self) -> None:
        # Lightning calls this on one process only: the place for downloads.
        download.ensure_files(self.data_dir, download.SPECS[self.name], self.download)

    def load_raw(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 images ``[N, 28, 28]`` and uint8 labels: train images, labels, test images, labels."""
        raw = download.ensure_files(self.data_dir, download.SPECS[self.name], self.download)
        parts = ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")
        return tuple(read_idx(raw / f"{p}-ubyte.gz") for p in parts)  # type: ignore[return-value]

    def _transform(self, images: torch.Tensor) -> torch.Tensor:
        # uint8 [N,28,28] -> float32 [N,1,28,28]; (p/255 - mean)/std folded into one scale+shift.
        mean, std = self.STATS[self.name]
        x = images.unsqueeze(1).to(torch.float32)
        return x.mul_(1.0 / (255.0 * std)).sub_(mean / std)

    def _load(self):
        x_tr, y_tr, x_te, y_te = self.load_raw()
        return x_tr, y_tr.long(), x_te, y_te.long()


class SyntheticDataModule(InMemoryDataModule):
    """Seeded Gaussian inputs labelled by a fixed random linear map (argmax): learnable, tiny."""

    def __init__(
        self,
        n_train: int = 1000,
        n_test: int = 200,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        seed: int = 0,
        val_size: int = 100,
        name: str = "synthetic",
        **kwargs,
    ) -> None:
        super().__init__(val_size=val_size, **kwargs)
        self.name = name
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        self.input_shape, self.num_classes = tuple(input_shape), num_classes

    def _load(self):
        gen = torch.Generator().manual_seed(self.seed)
        dim = math.prod(self.input_shape)
        weight = torch.randn(dim, self.num_classes, generator=gen)
        x = torch.randn(self.n_train + self.n_test, *self.input_shape, generator=gen)
        y = (x.flatten(1) @ weight).argmax(1)
        n = self.n_train
        return x[:n], y[:n], x[n:], y[n:]
