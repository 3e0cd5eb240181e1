"""LeNet architectures used by the source papers."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.layers.patch_conv import PatchConv2d


class LeNet5Caffe(nn.Module):
    """Caffe LeNet-5: conv 20 5x5, pool, conv 50 5x5, pool, fc 500, fc classes (431,080 params)."""

    layer_names = ("conv1", "conv2", "fc1", "fc2")

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28, widths=(20, 50, 500)):
        super().__init__()
        c1, c2, f1 = widths  # narrower after structured pruning (compressed files)
        self.conv1 = PatchConv2d(in_channels, c1, 5)  # an nn.Conv2d, faster on the CPU for 1-3 channels
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.side = ((image_size - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(c2 * self.side * self.side, f1)
        self.fc2 = nn.Linear(f1, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Pooling before the ReLU gives the same values and gradients (both are monotone; where a
        # window's maximum is <= 0 the ReLU passes no gradient) with a quarter of the ReLU's work.
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class LeNet300100(nn.Module):
    """LeNet-300-100: a 784-300-100-classes MLP (266,610 params)."""

    layer_names = ("fc1", "fc2", "fc3")

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28, widths=(300, 100)):
        super().__init__()
        h1, h2 = widths
        self.fc1 = nn.Linear(in_channels * image_size * image_size, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

