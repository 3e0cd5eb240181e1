"""What a decoder needs to rebuild an architecture: `ArchSpec`, and its checks.

`coding.arch` writes it into compressed files; `models.coded.CodedNetwork` builds from it.
A spec read from a file is untrusted: `validate` bounds every size (`LIMITS`, `MAX_PARAMS`) and
builds the network on the meta device (shapes only, no memory) before anything real is made.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn

from nncompress.models import architecture
from nncompress.models.targets import build_model, canonical, first_line, logits_of, weight_layers

TARGET = "@target"  # the name of a spec whose architecture is a `_target_` node (models.targets)

# Far above anything the registered architectures are used with (MNIST 1 x 28 x 28, CIFAR 3 x 32 x
# 32, ImageNet 1,000 classes at 224), small enough that a network within them fits in memory.
LIMITS = {"in_channels": (1, 16), "num_classes": (1, 10_000), "image_size": (1, 512), "width": (1, 1 << 16),
          "hash_seed": (0, (1 << 63) - 1)}
MAX_PARAMS = 1 << 25  # 33.5 M: 2.9x ResNet-18 on ImageNet, 3.6x paper 003's CIFAR CNN
# Weights behind hashed layers: each needs an index map and a sign (12 bytes, ~50 while built),
# so a few bytes of header must not claim many of them. 10x LeNet-5's hashed conv2 + fc1.
MAX_HASHED = 1 << 22
# Shape keys (`ArchSpec._shape_key`) whose network ran on its own input: the meta-device forward
# costs ~10 ms (decompositions in Python), and decoders and the fuzz suite validate the same
# few architectures again and again. Only successes are kept, so a refusal is always re-derived.
_RUNS: set = set()


@dataclass
class ArchSpec:
    name: str = "lenet5"  # architecture key (models.ARCHITECTURES), not the run's model name
    hashing: dict = field(default_factory=dict)  # layer -> hashing factor of its weight, e.g. {"conv2": 2}
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    hash_seed: int = 0
    widths: Optional[tuple] = None  # out-widths of the hidden weight layers, when narrowed by pruning
    target: Optional[dict] = None  # any architecture: a `_target_` node (models.targets); name is TARGET
    _layers: Optional[tuple] = field(default=None, repr=False, compare=False)

    @classmethod
    def of_target(cls, node: dict, in_channels: int, num_classes: int, image_size: int,
                  hashing: Optional[dict] = None) -> ArchSpec:
        canonical(node)  # plain JSON values only: the node is what a file stores
        return cls(TARGET, dict(hashing or {}), int(in_channels), int(num_classes), int(image_size), target=node)

    @property
    def layer_names(self) -> tuple:
        if self.target is None:
            return architecture(self.name).layer_names
        if self._layers is None:
            with torch.device("meta"):
                self._layers = weight_layers(self.build())
        return self._layers

    def build(self) -> nn.Module:
        """The plain architecture (its own default initialisation)."""
        if self.target is not None:
            return build_model(self.target)
        kwargs = {} if self.widths is None else {"widths": tuple(self.widths)}
        return architecture(self.name)(self.in_channels, self.num_classes, self.image_size, **kwargs)

    def describe(self) -> str:
        widths = "" if self.widths is None else f", widths {list(self.widths)}"
        name = self.name if self.target is None else str(self.target.get("_target_"))[:80]
        return (f"{name} ({self.in_channels} x {self.image_size} x {self.image_size} -> "
                f"{self.num_classes} classes{widths})")

    def validate(self) -> nn.Module:
        """ValueError (one line) unless this spec describes a network that can be built and run within
        LIMITS and MAX_PARAMS; returns it built on the meta device (shapes, no storage)."""
        for key in ("in_channels", "num_classes", "image_size", "hash_seed"):
            _within(key, getattr(self, key))
        for w in self.widths or ():
            _within("width", w)
        try:
            with torch.device("meta"):
                net = self.build()
        except (RuntimeError, ValueError, TypeError, OverflowError, ImportError, AttributeError) as exc:
            raise ValueError(f"{self.describe()} cannot be built: {first_line(exc)}") from None
        n_params = sum(p.numel() for p in net.parameters())
        if n_params > MAX_PARAMS:
            raise ValueError(f"{self.describe()} would have {n_params:,} parameters, over the limit of "
                             f"{MAX_PARAMS:,}")
        weights = {layer: net.get_parameter(f"{layer}.weight").numel() for layer in weight_layers(net)}
        for layer, factor in self.hashing.items():
            if layer not in weights:
                raise ValueError(f"hashing names unknown layer '{layer}'; layers: {list(weights)}")
            if not 1 <= int(factor) <= weights[layer]:
                raise ValueError(f"hashing factor {factor} of {layer} is outside 1..{weights[layer]} (its weights)")
        hashed = sum(weights[layer] for layer, factor in self.hashing.items() if int(factor) > 1)
        if hashed > MAX_HASHED:
            raise ValueError(f"{self.describe()} hashes {hashed:,} weights, over the limit of {MAX_HASHED:,}")
        key = self._shape_key()
        if key not in _RUNS:
            self._check_forward(net)
            if len(_RUNS) >= 1024:
                _RUNS.clear()
            _RUNS.add(key)
        return net

    def _shape_key(self) -> tuple:
        """What the forward check depends on (hashing does not change a layer's shape)."""
        target = None if self.target is None else json.dumps(self.target, sort_keys=True)
        widths = None if self.widths is None else tuple(self.widths)
        return self.name, target, self.in_channels, self.num_classes, self.image_size, widths

    def _check_forward(self, net: nn.Module) -> None:
        errors = (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError, AssertionError)
        try:
            with torch.device("meta"):
                out = logits_of(net(torch.empty(2, self.in_channels, self.image_size, self.image_size)))
        except errors as exc:
            if self.target is None:
                raise ValueError(f"{self.describe()} cannot run on its own input: {first_line(exc)}") from None
            # Some libraries' forward needs real tensors: run two real inputs on the CPU (the model is
            # within MAX_PARAMS and, read from a file, allow-listed).
            try:
                real = self.build().eval()
                with torch.no_grad():
                    out = logits_of(real(torch.zeros(2, self.in_channels, self.image_size, self.image_size)))
            except errors as exc2:
                raise ValueError(f"{self.describe()} cannot run on its own input: {first_line(exc2)}") from None
        if tuple(out.shape) != (2, self.num_classes):
            raise ValueError(f"{self.describe()} outputs shape {tuple(out.shape)[1:]}, not {self.num_classes} classes")

    def n_coded(self, net: Optional[nn.Module] = None) -> int:
        """Coded variables (`CodedNetwork.n_coded`) without building anything real: a hashed weight
        holds ceil(numel / factor)."""
        net = net if net is not None else self.validate()
        total = 0
        for name, p in net.named_parameters():
            layer = name[: -len(".weight")] if name.endswith(".weight") else None
            total += math.ceil(p.numel() / int(self.hashing.get(layer, 1)))
        return total


def _within(key: str, value) -> None:
    lo, hi = LIMITS[key]
    if not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{key} {value} is outside {lo}..{hi}")

