"""The datamodule protocol, and the in-memory datamodules: whole datasets as tensors on the device.

Every datamodule of this package, in memory or streamed, offers what the rest of the code relies on
(:class:`DataModuleProtocol`): ``name``, ``input_shape`` (C, H, W), ``num_classes``, ``n_train``,
``device``, ``has_val``, ``in_memory``, ``setup()`` and the three loaders, each yielding ``(x, y)``
batches already on ``device`` (so evaluation needs no ``.to()``: ``core.test_error`` iterates a
loader as is). In-memory ones (``in_memory`` true) also hold the splits as tensors on the device,
``x_train, y_train, x_val, y_val, x_test, y_test``: small sets (MNIST: 180 MB as float32) are
normalised once and sliced per batch, with no DataLoader, workers or host-to-device copies, which is
what makes a LeNet epoch take a second on a GPU and what MRC coding and importance estimation index
directly. Sets too big for memory (ImageNet) stream through a DataLoader with workers
(``streaming.py``, ``imagefolder.py``).
"""

from __future__ import annotations

import math
import os
from typing import Iterable, Iterator, Optional, Protocol, Sequence, Tuple, Union, runtime_checkable

import lightning as L
import torch

Batch = Tuple[torch.Tensor, torch.Tensor]


@runtime_checkable
class DataModuleProtocol(Protocol):
    """What tasks and method families may use of any datamodule (in memory or streamed).

    ``input_shape`` is (C, H, W) of one example; ``n_train`` counts the training examples after
    the validation hold-out (the N of a per-example objective such as sparse VD's KL / N);
    ``has_val`` says whether ``val_dataloader`` yields anything (if not, set the Trainer's
    ``limit_val_batches=0``); every loader yields ``(x float32 [B, C, H, W], y int64 [B])`` on
    ``device``. ``setup()`` may be called any number of times; the first call loads. Attributes
    that need the data (``n_train``, and ``num_classes`` where the labels tell it) set up on first
    use. With ``in_memory`` true, ``x_train, y_train, x_val, y_val, x_test, y_test`` are the splits
    as tensors on ``device``. (``isinstance(dm, DataModuleProtocol)`` reads every member before
    Python 3.12, ``n_train`` included, so it sets up.)
    """

    name: str
    input_shape: Tuple[int, ...]
    num_classes: int
    n_train: int
    device: torch.device
    has_val: bool
    in_memory: bool

    def setup(self, stage: Optional[str] = None) -> None: ...

    def train_dataloader(self) -> Iterable[Batch]: ...

    def val_dataloader(self) -> Iterable[Batch]: ...

    def test_dataloader(self) -> Iterable[Batch]: ...


def seeded_split(n: int, val_size: int, split_seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(train_idx, val_idx)``: ``val_size`` of ``range(n)`` held out by a permutation seeded with
    ``split_seed``. Both sorted, so each split keeps the original order (``val_size=0``: identity)."""
    if val_size < 0:
        raise ValueError(f"val_size must be >= 0, got {val_size}")
    if val_size >= n:
        raise ValueError(f"val_size={val_size} leaves no training data out of {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


class TensorBatchLoader:
    """Iterates ``(x, y)`` batches of in-memory tensors, with no DataLoader or workers.

    With ``shuffle=True`` each ``iter()`` draws a fresh permutation from a CPU generator
    seeded with ``seed + epoch`` (so the order does not depend on the device) and then
    advances ``epoch``. Lightning accepts any sized iterable as a dataloader; its move to the
    device is a no-op for tensors already there. No distributed sampler is injected: under DDP
    the datamodules wrap it in :class:`RankRows`.
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


class RankRows:
    """Under DDP (trainer=ddp): the rows of each global batch of `loader` that one rank trains on.

    The wrapped loader yields the global batches exactly as one process would (same order, same
    augmentation), and rank r of W keeps rows [r·B/W, (r+1)·B/W) of each (``core.shards.rows``),
    so W ranks × B/W rows are one process's B rows. ``dataset.batch_size`` stays the global batch.
    Everything else (``x``, ``batch_size``, ``set_epoch``, ``epoch``) is the wrapped loader's.
    """

    def __init__(self, loader, rank: int, world: int) -> None:
        from nncompress.core.shards import rows

        size = getattr(loader, "batch_size", None)
        if size is not None:
            rows(size, rank, world)  # a batch that does not split raises here, saying what to change
        self.loader, self.rank, self.world = loader, rank, world

    def __getattr__(self, name):
        return getattr(self.__dict__["loader"], name)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        from nncompress.core.shards import rows

        for x, y in self.loader:
            part = rows(len(x), self.rank, self.world)  # a last partial batch must split too
            yield x[part], y[part]


def rank_rows(loader, trainer):
    """`loader` cut into the rows of this rank (`RankRows`) when `trainer` runs several processes."""
    world = int(getattr(trainer, "world_size", 1) or 1) if trainer is not None else 1
    return loader if world == 1 else RankRows(loader, int(trainer.global_rank), world)


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
    in_memory = True

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

    @property
    def n_train(self) -> int:
        """Training examples after the validation hold-out (sets up on first use)."""
        self._require_setup()
        return len(self.x_train)

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
        train_idx, val_idx = seeded_split(len(x_pool), self.val_size, self.split_seed)
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
        return rank_rows(loader, trainer)

    def val_dataloader(self) -> TensorBatchLoader:
        self._require_setup()
        return TensorBatchLoader(self.x_val, self.y_val, self.eval_batch_size)

    def test_dataloader(self) -> TensorBatchLoader:
        self._require_setup()
        return TensorBatchLoader(self.x_test, self.y_test, self.eval_batch_size)


def default_data_dir() -> str:
    """``$NNCOMPRESS_DATA``, else ``./data``: where a datamodule built outside Hydra looks."""
    return os.environ.get("NNCOMPRESS_DATA", "data")


class SyntheticDataModule(InMemoryDataModule):
    """Seeded Gaussian inputs labelled by a fixed random linear map (argmax): learnable, tiny.

    The ``n_train`` argument (config key) is the size of the drawn training pool, of which
    ``val_size`` are held out; the ``n_train`` attribute of the protocol is what remains.
    """

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
        self.n_pool, self.n_test, self.seed = n_train, n_test, seed
        self.input_shape, self.num_classes = tuple(input_shape), num_classes

    def _load(self):
        gen = torch.Generator().manual_seed(self.seed)
        dim = math.prod(self.input_shape)
        weight = torch.randn(dim, self.num_classes, generator=gen)
        x = torch.randn(self.n_pool + self.n_test, *self.input_shape, generator=gen)
        y = (x.flatten(1) @ weight).argmax(1)
        n = self.n_pool
        return x[:n], y[:n], x[n:], y[n:]
