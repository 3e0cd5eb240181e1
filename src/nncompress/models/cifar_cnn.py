"""The CIFAR CNN of paper 003's public code (7 conv + 1 FC; the paper's text says 5 conv + 3 FC).

Source: wgao9/compression (``cifar`` model, itself the pytorch-playground CIFAR net), REFERENCE.md §4.
Layout (``features`` / ``classifier`` as in that code, so its state-dict keys match)::

    conv3x3 128, conv3x3 128, M, conv3x3 256, conv3x3 256, M,
    conv3x3 512, conv3x3 512, M, conv3x3 1024 (no padding), M, Linear(1024, classes)

Every conv has a bias and is followed by BatchNorm2d(affine=False) (running statistics only, no
parameters) and ReLU; M is a 2 x 2 max-pool. Spatial sizes for 32 x 32 inputs:
32 -> (pool) 16 -> (pool) 8 -> (pool) 4 -> (3 x 3, no padding) 2 -> (pool) 1, so the classifier
sees exactly 1024 features. 9,306,250 parameters for 10 classes.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple, Union

import torch
from torch import nn

# Output channels per conv ("M" = max-pool); the 4th-stage conv is unpadded.
_PLAN: Tuple[Union[int, str], ...] = (0, 1, "M", 2, 3, "M", 4, 5, "M", 6, "M")
_UNPADDED = 6
_WIDTHS = (128, 128, 256, 256, 512, 512, 1024)


def _conv_indices(plan=_PLAN) -> List[int]:
    """Positions of the convs inside ``features`` (conv, bn, relu per conv; one module per M)."""
    out, pos = [], 0
    for step in plan:
        if step == "M":
            pos += 1
        else:
            out.append(pos)
            pos += 3
    return out


class CifarCNN(nn.Module):
    """Paper 003's CIFAR CNN; ``widths`` (7 conv widths) can shrink it after structured pruning."""

    layer_names = tuple(f"features.{i}" for i in _conv_indices()) + ("classifier.0",)

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        image_size: int = 32,
        widths: Sequence[int] = _WIDTHS,
    ) -> None:
        super().__init__()
        if len(widths) != len(_WIDTHS):
            raise ValueError(f"widths needs {len(_WIDTHS)} conv widths, got {len(widths)}")
        layers: List[nn.Module] = []
        channels, side = in_channels, image_size
        for step in _PLAN:
            if step == "M":
                layers.append(nn.MaxPool2d(2))
                side //= 2
                continue
            pad = 0 if step == _UNPADDED else 1
            width = int(widths[step])
            # affine=False: normalisation only, as in the public code (no BN parameters)
            layers += [nn.Conv2d(channels, width, 3, padding=pad), nn.BatchNorm2d(width, affine=False),
                       nn.ReLU()]
            channels, side = width, side + 2 * pad - 2
        if side < 1:
            raise ValueError(f"image_size {image_size} is too small for this CNN (needs >= 32)")
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(channels * side * side, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
