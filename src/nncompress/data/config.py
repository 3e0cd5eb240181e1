"""The `dataset:` node's schemas (conf/dataset/*.yaml), one per kind of datamodule, in Hydra's
ConfigStore as `dataset/<kind>_schema`. Every key and its default is here; an option file states
its `_target_` (the datamodule `hydra.utils.instantiate` builds from the node), its name and what
differs. Every key is an argument of the datamodule, so a schema holds exactly the keys its
datamodule takes from the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from nncompress.core import checks

NORMALIZATIONS = ("half", "standard")  # CIFAR: mean 0.5 / std 0.5 (paper 003's code), or the set's statistics


@dataclass
class DataConfig:
    _target_: str = MISSING   # the datamodule class
    name: str = MISSING       # results.json `dataset`, pretrained dirs
    batch_size: int = 200     # the global training batch (trainer=ddp: split over the ranks)
    eval_batch_size: int = 1000
    val_size: int = 5000      # held out of the training images; tables report the test set
    device: str = "auto"      # where the batches live (in-memory sets: the whole set)

    def __post_init__(self) -> None:
        checks.integer("dataset.batch_size", self.batch_size, 1)
        checks.integer("dataset.eval_batch_size", self.eval_batch_size, 1)
        checks.integer("dataset.val_size", self.val_size, 0)


@dataclass
class FilesConfig(DataConfig):
    """MNIST, Fashion-MNIST: torchvision's files under data_dir, held in memory."""

    data_dir: str = "${paths.data_dir}"
    split_seed: int = 0           # which images are held out for validation
    shuffle_seed: int = "${seed}"
    download: bool = True         # fetch missing files when a mirror answers (never overwrites a corrupt one)
    check_md5: bool = True        # false: accept a copy whose md5s are not the official ones (e.g. a test's files)


@dataclass
class CifarConfig(FilesConfig):
    """CIFAR-10 / CIFAR-100: in memory, augmented on the device."""

    normalization: str = "half"
    augment: bool = True          # random crop (pad 4) and horizontal flip of the training batches

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.choice("dataset.normalization", self.normalization, NORMALIZATIONS)


@dataclass
class ImageFolderConfig(DataConfig):
    """Any set in the ImageNet layout, streamed with workers: root/train/<class>/, root/val/<class>/."""

    root: Optional[str] = None    # required by a run that reads the data: the folder holding train/ and val/
    train_dir: str = "train"
    test_dir: str = "val"
    image_size: int = 224
    num_classes: Optional[int] = None   # None: the number of class folders; a number: checked against them
    batch_size: int = 256
    eval_batch_size: int = 256
    num_workers: int = 8          # decoding JPEGs is the bottleneck: one worker per core
    val_size: int = 0             # images held out of train/ for validation (evaluation transforms)
    split_seed: int = 0
    shuffle_seed: int = "${seed}"

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.integer("dataset.image_size", self.image_size, 1)
        if self.num_classes is not None:
            checks.integer("dataset.num_classes", self.num_classes, 2)
        checks.integer("dataset.num_workers", self.num_workers, 0)


@dataclass
class SyntheticConfig(DataConfig):
    """A small seeded learnable set for smoke tests (no files)."""

    n_train: int = 2000           # examples drawn for training (val_size of them held out)
    n_test: int = 500
    val_size: int = 200
    eval_batch_size: int = 500
    seed: int = "${seed}"

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.integer("dataset.n_train", self.n_train, self.val_size + 1)
        checks.integer("dataset.n_test", self.n_test, 1)


SCHEMAS = {("dataset", "files_schema"): FilesConfig, ("dataset", "cifar_schema"): CifarConfig,
           ("dataset", "imagefolder_schema"): ImageFolderConfig, ("dataset", "synthetic_schema"): SyntheticConfig}
