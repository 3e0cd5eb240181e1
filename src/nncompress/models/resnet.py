"""ResNet-18 for 32 x 32 inputs (CIFAR): the grid model of paper 002 (PWFN, REFERENCE.md §3).

Source: He et al., "Deep Residual Learning for Image Recognition" (2016), BasicBlock version,
with the usual CIFAR stem: one 3 x 3 stride-1 conv of 64 channels and no max-pool. Stages of
[2, 2, 2, 2] BasicBlocks at 64 / 128 / 256 / 512 channels (stride 2 at the first block of stages
2-4), BatchNorm after every conv, convs without bias, 1 x 1 stride-2 conv + BatchNorm projection
shortcuts where the shape changes, global average pool, Linear(512, classes).
Module names follow the widely used CIFAR layout (conv1/bn1, layerK.B.conv1/bn1/conv2/bn2,
layerK.B.shortcut.0/1, linear), so such checkpoints load. 11,173,962 parameters for 10 classes.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

_BLOCKS = (2, 2, 2, 2)
_WIDTHS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """Two 3 x 3 conv + BN; identity shortcut, or 1 x 1 conv + BN when stride or width change."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()  # identity (no parameters)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def _layer_names() -> tuple:
    """conv1, then per block conv1, conv2, shortcut.0 (projection blocks only), then linear."""
    names: List[str] = ["conv1"]
    in_planes = _WIDTHS[0]
    for stage, (blocks, planes) in enumerate(zip(_BLOCKS, _WIDTHS), start=1):
        for b in range(blocks):
            stride = 2 if stage > 1 and b == 0 else 1
            names += [f"layer{stage}.{b}.conv1", f"layer{stage}.{b}.conv2"]
            if stride != 1 or in_planes != planes:
                names.append(f"layer{stage}.{b}.shortcut.0")
            in_planes = planes
    return tuple(names + ["linear"])


class ResNet18(nn.Module):
    """ResNet-18 with a CIFAR stem; ``widths`` (4 stage widths) can shrink it.

    The stem has ``widths[0]`` channels and stages 2-4 start with stride 2, so the projection
    shortcuts (and hence ``layer_names``) are the same for any ``widths``.
    """

    layer_names = _layer_names()

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        image_size: int = 32,
        widths: Sequence[int] = _WIDTHS,
    ) -> None:
        super().__init__()
        del image_size  # global average pooling makes the head independent of the input size
        if len(widths) != 4:
            raise ValueError(f"widths needs 4 stage widths, got {len(widths)}")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for stage, (blocks, planes) in enumerate(zip(_BLOCKS, widths), start=1):
            layer = []
            for b in range(blocks):
                layer.append(BasicBlock(in_planes, planes, stride=2 if stage > 1 and b == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{stage}", nn.Sequential(*layer))
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(out.mean(dim=(2, 3)))  # global average pool (4 x 4 for 32 x 32 inputs)
