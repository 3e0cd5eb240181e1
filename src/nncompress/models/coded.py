"""A network whose parameters are read from one flat vector of coded variables.

Compression methods hold distributions over the coded vector; `CodedNetwork` maps a vector
(a posterior sample, the means, or decoded weights) onto the architecture, through the hashing
trick where configured, and runs the forward pass functionally.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call

from nncompress.coding import varint
from nncompress.layers.hashed import hash_map
from nncompress.models.lenet import ARCHITECTURES


@dataclass
class ArchSpec:
    """Everything a decoder needs to rebuild the architecture and its hashing."""

    name: str = "lenet5"
    hashing: dict = field(default_factory=dict)  # layer -> factor for its weight, e.g. {"conv2": 2}
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    hash_seed: int = 0

    def to_bytes(self) -> bytes:
        """Compact binary form: name, one hashing factor per layer weight, sizes, hash seed."""
        layers = ARCHITECTURES[self.name].layer_names
        out = bytearray(varint.encode(len(self.name)) + self.name.encode())
        out += varint.encode(len(layers))
        for layer in layers:
            out += varint.encode(int(self.hashing.get(layer, 1)))
        for v in (self.in_channels, self.num_classes, self.image_size, self.hash_seed):
            out += varint.encode(int(v))
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes, pos: int = 0):
        """Returns (spec, next position)."""
        length, pos = varint.decode(raw, pos)
        name = raw[pos : pos + length].decode("ascii")
        pos += length
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown architecture '{name}' in file")
        layers = ARCHITECTURES[name].layer_names
        count, pos = varint.decode(raw, pos)
        if count != len(layers):
            raise ValueError(f"file lists {count} layers, {name} has {len(layers)}")
        hashing = {}
        for layer in layers:
            factor, pos = varint.decode(raw, pos)
            if factor != 1:
                hashing[layer] = factor
        sizes = []
        for _ in range(4):
            v, pos = varint.decode(raw, pos)
            sizes.append(v)
        return cls(name, hashing, *sizes), pos


class CodedNetwork(nn.Module):
    """Architecture + the map from a flat coded vector to its (virtual) parameters."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        if spec.name not in ARCHITECTURES:
            raise ValueError(f"unknown model '{spec.name}'; choose one of {sorted(ARCHITECTURES)}")
        self.spec = spec
        self.net = ARCHITECTURES[spec.name](spec.in_channels, spec.num_classes, spec.image_size)
        names = dict(self.net.named_parameters())
        unknown = set(spec.hashing) - set(self.net.layer_names)
        if unknown:
            raise ValueError(f"hashing names unknown layers {sorted(unknown)}; layers: {list(self.net.layer_names)}")
        self.slots = []  # (param name, shape, offset, n_coded, layer index, hashed)
        offset = 0
        layer_ids = {name: i for i, name in enumerate(self.net.layer_names)}
        init = []
        for pid, (name, p) in enumerate(names.items()):
            factor = int(spec.hashing.get(name[: -len(".weight")], 1)) if name.endswith(".weight") else 1
            if factor < 1:
                raise ValueError(f"hashing factor for {name} must be >= 1, got {factor}")
            layer = layer_ids[name.split(".")[0]]
            if factor > 1:
                index, sign, n = hash_map(p.numel(), factor, spec.hash_seed, pid)
                self.register_buffer(f"hidx_{pid}", index, persistent=False)
                self.register_buffer(f"hsign_{pid}", sign, persistent=False)
            else:
                n = p.numel()
            # PyTorch's default init draws i.i.d. entries, so any n of them have its distribution.
            init.append(p.detach().flatten()[:n].clone())
            self.slots.append((name, tuple(p.shape), offset, n, layer, factor > 1, pid))
            offset += n
        self.n_coded = offset
        self.n_params = sum(p.numel() for p in names.values())
        self.n_layers = len(self.net.layer_names)
        self.register_buffer("layer_of", torch.cat([torch.full((s[3],), s[4]) for s in self.slots]), persistent=False)
        self._init_vector = torch.cat(init)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def init_vector(self) -> torch.Tensor:
        """PyTorch's default initialisation, in coded order."""
        return self._init_vector.clone()

    def expand(self, coded: torch.Tensor) -> dict:
        """Flat coded vector -> {parameter name: tensor of the architecture's shape}."""
        params = {}
        for name, shape, offset, n, _, hashed, pid in self.slots:
            real = coded[offset : offset + n]
            if hashed:
                real = real[getattr(self, f"hidx_{pid}")] * getattr(self, f"hsign_{pid}")
            params[name] = real.reshape(shape)
        return params

    def forward(self, x: torch.Tensor, coded: torch.Tensor) -> torch.Tensor:
        return functional_call(self.net, self.expand(coded), (x,))

    def layer_sizes(self) -> list:
        return [int((self.layer_of == i).sum()) for i in range(self.n_layers)]
