"""Image folders in the ImageNet layout, streamed through torchvision's ``ImageFolder`` and a
DataLoader with workers (1.28 M JPEGs do not fit in memory), with the standard transforms.

Layout (that of ImageNet's ILSVRC-2012 once its val images are sorted into class folders, as the
PyTorch ImageNet example expects)::

    <root>/train/<class>/*.JPEG        the training images (``train_dir``)
    <root>/val/<class>/*.JPEG          the evaluation images (``test_dir``): the test set here

Classes are the sub-folder names, sorted (torchvision's rule), so label k is the k-th name in
both folders; the two must hold the same class names. Any image PIL opens is read, as RGB.

Transforms (the ResNet training recipe of torchvision's reference scripts): training
``RandomResizedCrop(image_size)``, ``RandomHorizontalFlip()``; evaluation
``Resize(int(image_size * 256 / 224))`` (the shorter side; 256 for 224), ``CenterCrop(image_size)``;
then ``ToTensor()`` and ``Normalize`` with the ImageNet mean / std. Evaluation is deterministic;
training randomness comes from the workers' seeds, which ``DeviceLoader`` derives from
(``shuffle_seed``, epoch).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from torchvision import datasets, transforms

from nncompress.core.errors import UserError

from .files import DataNotFoundError, one_line
from .streaming import StreamingDataModule

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LAYOUT = "<root>/{train}/<class>/*.JPEG and <root>/{test}/<class>/*.JPEG"


def train_transform(image_size: int, mean: Sequence[float], std: Sequence[float]) -> transforms.Compose:
    return transforms.Compose([
        transforms.RandomResizedCrop(image_size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


def eval_transform(image_size: int, mean: Sequence[float], std: Sequence[float],
                   resize_size: Optional[int] = None) -> transforms.Compose:
    return transforms.Compose([
        transforms.Resize(resize_size or int(image_size * 256 / 224)),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


class ImageFolderDataModule(StreamingDataModule):
    """A classification set in the ImageNet layout under ``root``, streamed (see the module doc).

    ``num_classes``, when given (``imagenet.yaml``: 1000), is checked against the class folders
    found; when not, it is their number. ``val_size`` holds images out of ``train_dir`` (read with
    the evaluation transforms) for validation; the default 0 validates on nothing, as the
    ``test_dir`` images are the reported test set.
    """

    def __init__(
        self,
        root: Optional[Union[str, os.PathLike]] = None,
        train_dir: str = "train",
        test_dir: str = "val",
        image_size: int = 224,
        resize_size: Optional[int] = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        num_classes: Optional[int] = None,
        name: str = "imagefolder",
        batch_size: int = 256,
        eval_batch_size: int = 256,
        num_workers: int = 8,
        **kwargs,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, num_workers=num_workers, **kwargs)
        self.root = None if root is None else Path(root).expanduser()
        self.train_dir, self.test_dir = train_dir, test_dir
        self.name, self.image_size, self.resize_size = name, int(image_size), resize_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.input_shape = (3, self.image_size, self.image_size)
        self._expected_classes = num_classes
        self.classes: Optional[List[str]] = None

    def _folder(self, sub: str) -> Path:
        layout = LAYOUT.format(train=self.train_dir, test=self.test_dir)
        if self.root is None:  # raised here, not in __init__, where Hydra's instantiate would wrap it
            raise DataNotFoundError(f"no image folder given: set dataset.root to a folder laid out as {layout}")
        folder = self.root / sub
        if not folder.is_dir():
            raise DataNotFoundError(
                f"image folder missing: {folder} (expected {layout} with root {self.root}: "
                "copy the images there, or set dataset.root)"
            )
        return folder

    def find_classes(self) -> List[str]:
        """The class folder names of ``train_dir``, sorted (cheap: no image is listed)."""
        if self.classes is None:
            folder = self._folder(self.train_dir)
            classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
            if not classes:
                raise DataNotFoundError(f"no class folders in {folder} (expected {folder}/<class>/*.JPEG)")
            if self._expected_classes is not None and len(classes) != self._expected_classes:
                raise UserError(f"{folder} has {len(classes)} class folders, expected {self._expected_classes}")
            self.classes = classes
        return self.classes

    @property
    def num_classes(self) -> int:
        return len(self.find_classes())

    def _image_folder(self, sub: str, transform) -> datasets.ImageFolder:
        folder = self._folder(sub)
        try:
            ds = datasets.ImageFolder(str(folder), transform=transform)
        except FileNotFoundError as exc:  # no class folder, or a class folder without images
            raise DataNotFoundError(f"{folder}: {one_line(exc)}") from exc
        if ds.classes != self.find_classes():
            extra, lacking = set(ds.classes) - set(self.classes), set(self.classes) - set(ds.classes)
            raise UserError(f"{folder} classes differ from {self.root / self.train_dir}'s: "
                             f"extra {sorted(extra)[:5]}, lacking {sorted(lacking)[:5]}")
        return ds

    def _datasets(self) -> Tuple:
        self.find_classes()
        args = (self.image_size, self.mean, self.std)
        train = self._image_folder(self.train_dir, train_transform(*args))
        test = self._image_folder(self.test_dir, eval_transform(*args, self.resize_size))
        # the same index of images with the evaluation transforms, for a held-out validation split
        eval_pool = copy.copy(train)
        eval_pool.transform = test.transform
        return train, eval_pool, test, None
