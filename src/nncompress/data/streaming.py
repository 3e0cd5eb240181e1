"""Streamed datamodules (a DataLoader with workers, for sets too big for memory), and
:class:`DatasetDataModule`, which takes any torch Datasets a user gives and holds them in memory
when they are small, streams them otherwise.

Both keep the protocol of ``datamodule.py``: every loader yields batches on ``device``. A streamed
loader is a :class:`DeviceLoader` around a ``torch.utils.data.DataLoader``: workers decode and
transform on the CPU, batches are pinned (on CUDA) and moved in the main process.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Tuple, Union

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from .datamodule import Batch, TensorBatchLoader, rank_rows, resolve_device, seeded_split

DEFAULT_MAX_MEMORY_BYTES = 2 << 30  # 2 GiB of float32 inputs: above this, DatasetDataModule streams


class DeviceLoader:
    """Iterates a DataLoader, moving each ``(x, y)`` batch to ``device``.

    With ``seed`` given (training), each ``iter()`` reseeds the DataLoader's generator with
    ``seed + epoch`` and then advances ``epoch``: the shuffle order and the workers' base seed
    (hence their random transforms) depend only on (seed, epoch), as with
    :class:`TensorBatchLoader`, and ``set_epoch`` resumes. No distributed sampler is injected
    (Lightning sees an iterable, not a DataLoader); under DDP the datamodule wraps it in ``RankRows``.
    """

    def __init__(self, loader: DataLoader, device: torch.device, seed: Optional[int] = None) -> None:
        self.loader, self.device, self.seed = loader, device, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        if self.seed is not None and self.loader.generator is not None:
            self.loader.generator.manual_seed(self.seed + self.epoch)
            self.epoch += 1
        non_blocking = self.device.type == "cuda"  # from pinned memory: overlaps the next batch
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=non_blocking), y.to(self.device, non_blocking=non_blocking)


class StreamingDataModule(L.LightningDataModule):
    """Base of the streamed datamodules: subclasses implement ``_datasets()``; this class splits and
    serves through DataLoaders.

    ``val_size`` examples are held out of the training pool (seeded by ``split_seed``, as in the
    in-memory modules) unless ``_datasets`` gives a validation set of its own. ``pin_memory="auto"``
    pins on CUDA. Training batches are shuffled (``shuffle_seed``), evaluation batches are not.
    """

    name: str = "streaming"
    input_shape: Tuple[int, ...] = ()
    in_memory = False

    def __init__(
        self,
        batch_size: int = 256,
        eval_batch_size: int = 256,
        val_size: int = 0,
        split_seed: int = 0,
        shuffle_seed: int = 0,
        device: Union[str, torch.device] = "auto",
        num_workers: int = 0,
        pin_memory: Union[bool, str] = "auto",
    ) -> None:
        super().__init__()
        if val_size < 0:
            raise ValueError(f"val_size must be >= 0, got {val_size}")
        if batch_size < 1 or eval_batch_size < 1:
            raise ValueError(f"batch sizes must be >= 1, got {batch_size}, {eval_batch_size}")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_size, self.split_seed, self.shuffle_seed = val_size, split_seed, shuffle_seed
        self.device = resolve_device(device)
        self.num_workers = num_workers
        self.pin_memory = self.device.type == "cuda" if pin_memory == "auto" else bool(pin_memory)
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None
        self.test_set: Optional[Dataset] = None

    def _datasets(self) -> Tuple[Dataset, Dataset, Dataset, Optional[Dataset]]:
        """``(train pool, the same pool for evaluation, test, given val or None)``: the second is
        the pool with evaluation transforms, what held-out validation examples are read from."""
        raise NotImplementedError

    @property
    def has_val(self) -> bool:
        return self.val_size > 0

    @property
    def n_train(self) -> int:
        """Training examples after the validation hold-out (sets up on first use)."""
        self._require_setup()
        return len(self.train_set)

    def setup(self, stage: Optional[str] = None) -> None:
        """Index the datasets and split once; later calls do nothing."""
        if self.train_set is not None:
            return
        pool, eval_pool, test, val = self._datasets()
        if val is not None:
            if self.val_size:
                raise ValueError(f"a validation set is given: val_size must be 0, got {self.val_size}")
            self.train_set, self.val_set = pool, val
        else:
            train_idx, val_idx = seeded_split(len(pool), self.val_size, self.split_seed)
            self.train_set = pool if not self.val_size else Subset(pool, train_idx.tolist())
            self.val_set = Subset(eval_pool, val_idx.tolist())
        self.test_set = test

    def _require_setup(self) -> None:
        if self.train_set is None:
            self.setup()

    def _loader(self, dataset: Dataset, batch_size: int, train: bool) -> DeviceLoader:
        loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=train, num_workers=self.num_workers,
            pin_memory=self.pin_memory, generator=torch.Generator() if train else None,
        )
        return DeviceLoader(loader, self.device, seed=self.shuffle_seed if train else None)

    def train_dataloader(self) -> DeviceLoader:
        self._require_setup()
        loader = self._loader(self.train_set, self.batch_size, train=True)
        trainer = getattr(self, "trainer", None)  # resume-aware, as InMemoryDataModule
        loader.set_epoch(trainer.current_epoch if trainer is not None else 0)
        # DDP: every rank reads the global batch and keeps its rows (simple and exact; W-fold reads)
        return rank_rows(loader, trainer)

    def val_dataloader(self) -> DeviceLoader:
        self._require_setup()
        return self._loader(self.val_set, self.eval_batch_size, train=False)

    def test_dataloader(self) -> DeviceLoader:
        self._require_setup()
        return self._loader(self.test_set, self.eval_batch_size, train=False)


def as_input(x: Any) -> torch.Tensor:
    """One example's input as a float32 tensor: tensors and arrays as they are, numbers as 0-d,
    PIL images by torchvision's ``to_tensor`` (C, H, W in [0, 1])."""
    if isinstance(x, torch.Tensor):
        return x.to(torch.float32)
    if hasattr(x, "getbands"):  # a PIL image: the dataset has no ToTensor transform
        from torchvision.transforms.functional import to_tensor

        return to_tensor(x)
    return torch.as_tensor(x, dtype=torch.float32)


def as_label(y: Any) -> int:
    value = y.item() if hasattr(y, "item") else y
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"labels must be class indices (ints), got {y!r}")
    return int(value)


class _Examples(Dataset):
    """A user's dataset as ``(float32 tensor, int)`` pairs (what DataLoader collates)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, int]:
        x, y = self.dataset[i][:2]
        return as_input(x), as_label(y)


class DatasetDataModule(StreamingDataModule):
    """Any map-style torch Datasets of ``(input, label)`` pairs (train, test[, val]) as a datamodule.

    ``input_shape`` is the shape of the first training input (tensor, array or PIL image);
    ``num_classes``, when not given, is ``len(train.classes)`` (torchvision's convention) or one more
    than the largest label. ``in_memory``: ``"auto"`` holds the sets in memory when their inputs
    take at most ``max_memory_bytes`` as float32 (default 2 GiB), ``True`` always, ``False`` never.
    In memory (the fast path of MNIST-sized sets), every example is read once, stacked, moved to
    ``device`` and served as slices (``x_train`` ... as in :class:`InMemoryDataModule`); streamed,
    a DataLoader with ``num_workers`` reads them per batch, and ``num_classes`` must come from
    ``classes`` / ``targets`` or the argument (the labels are not read ahead). Inputs are served as
    the dataset returns them: normalisation is the dataset's transform's job. ``val_size`` holds
    examples out of ``train`` when no ``val`` is given.
    """

    def __init__(
        self,
        train: Dataset,
        test: Dataset,
        val: Optional[Dataset] = None,
        num_classes: Optional[int] = None,
        batch_size: int = 200,
        eval_batch_size: int = 1000,
        in_memory: Union[bool, str] = "auto",
        max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
        name: str = "custom",
        **kwargs,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, **kwargs)
        if in_memory not in ("auto", True, False):
            raise ValueError(f"in_memory must be 'auto', True or False, got {in_memory!r}")
        if len(train) == 0:
            raise ValueError("the training dataset is empty")
        self.name = name
        self._given = (train, test, val)
        self.input_shape = tuple(as_input(train[0][0]).shape)
        n = len(train) + len(test) + (len(val) if val is not None else 0)
        self.memory_bytes = n * math.prod(self.input_shape) * 4
        self.in_memory = in_memory is True or (in_memory == "auto" and self.memory_bytes <= max_memory_bytes)
        self._num_classes = num_classes if num_classes is not None else self._declared_classes(train)
        if self._num_classes is None and not self.in_memory:
            raise ValueError("give num_classes: a streamed dataset's labels are not read ahead "
                             "(nor does it have .classes or .targets)")
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = None

    @staticmethod
    def _declared_classes(ds: Dataset) -> Optional[int]:
        if getattr(ds, "classes", None) is not None:
            return len(ds.classes)
        targets = getattr(ds, "targets", None)
        if targets is not None and len(targets):
            return int(torch.as_tensor(targets).max()) + 1
        return None

    @property
    def has_val(self) -> bool:
        return self._given[2] is not None or self.val_size > 0

    @property
    def num_classes(self) -> int:
        if self._num_classes is None:  # in memory: from the labels, once loaded
            self._require_setup()
            ys = [y for y in (self.y_train, self.y_val, self.y_test) if y is not None and len(y)]
            self._num_classes = int(max(int(y.max()) for y in ys)) + 1
        return self._num_classes

    def _datasets(self):
        train, test, val = (None if d is None else _Examples(d) for d in self._given)
        return train, train, test, val

    def _stack(self, dataset: Optional[Dataset]) -> Tuple[torch.Tensor, torch.Tensor]:
        if dataset is None or len(dataset) == 0:
            return torch.empty(0, *self.input_shape), torch.empty(0, dtype=torch.int64)
        xs, ys = [], []
        for x, y in DataLoader(dataset, batch_size=1024, num_workers=self.num_workers):
            if tuple(x.shape[1:]) != self.input_shape:
                raise ValueError(f"inputs of shape {list(x.shape[1:])} after {list(self.input_shape)}")
            xs.append(x)
            ys.append(y)
        return torch.cat(xs).to(self.device), torch.cat(ys).to(self.device, torch.int64)

    def setup(self, stage: Optional[str] = None) -> None:
        if self.train_set is not None:
            return
        super().setup(stage)
        if self.in_memory:
            self.x_train, self.y_train = self._stack(self.train_set)
            self.x_val, self.y_val = self._stack(self.val_set)
            self.x_test, self.y_test = self._stack(self.test_set)
            k = self._num_classes
            for y in (self.y_train, self.y_val, self.y_test):
                if len(y) and (int(y.min()) < 0 or (k is not None and int(y.max()) >= k)):
                    raise ValueError(f"labels outside [0, {k}): min {int(y.min())}, max {int(y.max())}")

    def train_dataloader(self) -> Union[TensorBatchLoader, DeviceLoader]:
        if not self.in_memory:
            return super().train_dataloader()
        self._require_setup()
        loader = TensorBatchLoader(self.x_train, self.y_train, self.batch_size, shuffle=True, seed=self.shuffle_seed)
        trainer = getattr(self, "trainer", None)
        loader.set_epoch(trainer.current_epoch if trainer is not None else 0)
        return rank_rows(loader, trainer)

    def val_dataloader(self) -> Union[TensorBatchLoader, DeviceLoader]:
        if not self.in_memory:
            return super().val_dataloader()
        self._require_setup()
        return TensorBatchLoader(self.x_val, self.y_val, self.eval_batch_size)

    def test_dataloader(self) -> Union[TensorBatchLoader, DeviceLoader]:
        if not self.in_memory:
            return super().test_dataloader()
        self._require_setup()
        return TensorBatchLoader(self.x_test, self.y_test, self.eval_batch_size)


__all__ = ["DEFAULT_MAX_MEMORY_BYTES", "DatasetDataModule", "DeviceLoader", "StreamingDataModule"]
