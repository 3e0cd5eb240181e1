"""Architectures by name, and the coded-vector view of a network (`coded.CodedNetwork`).

Every architecture takes `(in_channels, num_classes, image_size, **options)` and lists its
weight layers (Linear / Conv2d, in forward order) in `layer_names`.
"""
from __future__ import annotations

from nncompress.models.cifar_cnn import CifarCNN
from nncompress.models.lenet import LeNet5Caffe, LeNet300100
from nncompress.models.mlp import MLP
from nncompress.models.resnet import ResNet18
from nncompress.models.vgg import VGG16

ARCHITECTURES = {"lenet5": LeNet5Caffe, "lenet300_100": LeNet300100, "mlp": MLP, "cifar_cnn": CifarCNN,
                 "resnet18": ResNet18, "vgg16": VGG16}


def architecture(name: str):
    """The architecture class registered as `name`; ValueError listing the valid names otherwise."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{name}'; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name]
