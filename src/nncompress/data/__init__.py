"""Data sets as Lightning datamodules: torchvision reads the files, small sets live in memory.

MNIST, Fashion-MNIST and CIFAR-10/100 are read by torchvision's dataset classes from
torchvision's layout under ``data_dir`` (``${paths.data_dir}``), md5-checked, then held as
normalised tensors on the training device (``InMemoryDataModule``; CIFAR augmented on the device).
Image folders in the ImageNet layout stream through a DataLoader with workers
(``ImageFolderDataModule``); any torch Datasets a user gives become a datamodule with
``DatasetDataModule`` (in memory when small). Every datamodule follows
:class:`DataModuleProtocol` (``datamodule.py``): ``name``, ``input_shape``, ``num_classes``,
``n_train``, ``device``, ``has_val``, ``in_memory``, ``setup()`` and three loaders whose batches
are on ``device``; in-memory ones also hold ``x_train, y_train, x_val, y_val, x_test, y_test``.
Missing or corrupt files raise a one-line :class:`DataNotFoundError` naming the folder and files.
"""

from .cifar import CIFAR10DataModule, CIFAR100DataModule, RandomCropFlipLoader, random_crop_flip
from .datamodule import (
    DataModuleProtocol,
    InMemoryDataModule,
    SyntheticDataModule,
    TensorBatchLoader,
    default_data_dir,
    resolve_device,
    seeded_split,
)
from .files import DataNotFoundError
from .imagefolder import IMAGENET_MEAN, IMAGENET_STD, ImageFolderDataModule
from .mnist import MNISTDataModule
from .streaming import DatasetDataModule, DeviceLoader, StreamingDataModule

__all__ = [
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "DataModuleProtocol",
    "DataNotFoundError",
    "DatasetDataModule",
    "DeviceLoader",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageFolderDataModule",
    "InMemoryDataModule",
    "MNISTDataModule",
    "RandomCropFlipLoader",
    "StreamingDataModule",
    "SyntheticDataModule",
    "TensorBatchLoader",
    "default_data_dir",
    "random_crop_flip",
    "resolve_device",
    "seeded_split",
]
