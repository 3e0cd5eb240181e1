"""What a decoder needs to rebuild an architecture: `ArchSpec`.

`coding.arch` writes it into compressed files; `models.coded.CodedNetwork` builds from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch.nn as nn

from nncompress.models import architecture


@dataclass
class ArchSpec:
    name: str = "lenet5"  # architecture key (models.ARCHITECTURES), not the run's model name
    hashing: dict = field(default_factory=dict)  # layer -> hashing factor of its weight, e.g. {"conv2": 2}
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    hash_seed: int = 0
    widths: Optional[tuple] = None  # out-widths of the hidden weight layers, when narrowed by pruning

    @property
    def layer_names(self) -> tuple:
        return architecture(self.name).layer_names

    def build(self) -> nn.Module:
        """The plain architecture (PyTorch's default initialisation)."""
        kwargs = {} if self.widths is None else {"widths": tuple(self.widths)}
        return architecture(self.name)(self.in_channels, self.num_classes, self.image_size, **kwargs)
