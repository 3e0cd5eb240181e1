"""A network whose parameters are read from one flat vector of coded variables.

Compression methods hold distributions over the coded vector; `CodedNetwork` maps a vector
(a posterior sample, the means, or decoded weights) onto the architecture, through the hashing
trick where configured, and runs the forward pass functionally.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from nncompress.layers.hashed import hash_map
from nncompress.models.spec import ArchSpec


class CodedNetwork(nn.Module):
    """Architecture + the map from a flat coded vector to its (virtual) parameters."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        self.net = spec.build()
        names = dict(self.net.named_parameters())
        unknown = set(spec.hashing) - set(self.net.layer_names)
        if unknown:
            raise ValueError(f"hashing names unknown layers {sorted(unknown)}; layers: {list(self.net.layer_names)}")
        self.slots = []  # (param name, shape, offset, n_coded, layer index, hashed)
        offset = 0
        layer_ids = {name: i for i, name in enumerate(self.net.layer_names)}
        init = []
        layer = 0
        for pid, (name, p) in enumerate(names.items()):
            factor = int(spec.hashing.get(name[: -len(".weight")], 1)) if name.endswith(".weight") else 1
            if factor < 1:
                raise ValueError(f"hashing factor for {name} must be >= 1, got {factor}")
            # A weight layer's own parameters; others (e.g. BatchNorm's) count with the layer before.
            layer = layer_ids.get(name.rsplit(".", 1)[0], layer)
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
