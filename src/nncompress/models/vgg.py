"""VGG-16 for CIFAR (configuration D of Simonyan & Zisserman, 13 convs with BatchNorm), the model of
MIRACLE's CIFAR-10 row (paper 000's second seed system: 6.57 % at 159x, 10.0 % at 452x).

ImageNet's VGG-16 ends in 7 x 7 x 512 -> 4096 -> 4096 -> classes (138 M parameters); on 32 x 32
inputs the five pools leave 1 x 1 x 512, and the CIFAR variant used with MIRACLE's ~15 M
parameters is the common one: 512 -> 512 -> classes with dropout. 14,990,922 parameters for 10
classes. `features` / `classifier` follow torchvision's naming.
"""
from __future__ import annotations

from typing import List

import torch
from torch import nn

from nncompress.models.cifar_cnn import _conv_indices  # conv, bn, relu per conv; one module per M

PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")



class VGG16(nn.Module):
    layer_names = tuple(f"features.{i}" for i in _conv_indices(PLAN)) + ("classifier.1", "classifier.4")

    def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        channels, side = in_channels, image_size
        for step in PLAN:
            if step == "M":
                layers.append(nn.MaxPool2d(2))
                side //= 2
                continue
            layers += [nn.Conv2d(channels, step, 3, padding=1), nn.BatchNorm2d(step), nn.ReLU(inplace=True)]
            channels = step
        if side < 1:
            raise ValueError(f"image_size {image_size} is too small for VGG-16's five pools (needs >= 32)")
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(channels * side * side, 512), nn.ReLU(inplace=True),
                                        nn.Dropout(0.5), nn.Linear(512, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
