"""Datasets as in-memory tensors: idx reader, verified downloads, Lightning datamodules."""

from .cifar import CIFAR10DataModule, CIFAR100DataModule
from .datamodule import (
    InMemoryDataModule,
    MNISTDataModule,
    SyntheticDataModule,
    TensorBatchLoader,
    default_data_dir,
    resolve_device,
)
from .download import (
    FASHION_MNIST_FILES,
    MNIST_FILES,
    SPECS,
    DataNotFoundError,
    DatasetFiles,
    ensure_files,
    file_md5,
)
from .idx import parse_idx, read_idx

__all__ = [
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "DataNotFoundError",
    "DatasetFiles",
    "FASHION_MNIST_FILES",
    "InMemoryDataModule",
    "MNISTDataModule",
    "MNIST_FILES",
    "SPECS",
    "SyntheticDataModule",
    "TensorBatchLoader",
    "default_data_dir",
    "ensure_files",
    "file_md5",
    "parse_idx",
    "read_idx",
    "resolve_device",
]
