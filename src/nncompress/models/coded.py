"""A network whose parameters are read from one flat vector of coded variables.

Compression methods hold distributions over the coded vector; `CodedNetwork` maps a vector
(a posterior sample, the means, or decoded weights) onto the architecture, through the hashing
trick where configured, and runs the forward pass functionally.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.func import functional_call

from nncompress.layers.hashed import hash_map
from nncompress.models.spec import ArchSpec
from nncompress.models.targets import logits_of, weight_layers


class CodedNetwork(nn.Module):
    """Architecture + the map from a flat coded vector to its (virtual) parameters."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        self.net = spec.build()
        names = dict(self.net.named_parameters())
        self.layer_names = weight_layers(self.net)
        unknown = set(spec.hashing) - set(self.layer_names)
        if unknown:
            raise ValueError(f"hashing names unknown layers {sorted(unknown)}; layers: {list(self.layer_names)}")
        self.slots = []  # (param name, shape, offset, n_coded, layer index, hashed)
        offset = 0
        layer_ids = {name: i for i, name in enumerate(self.layer_names)}
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
        self.n_layers = len(self.layer_names)
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
                # index_select, not real[index]: its gradient is an index_add, ~7x faster on the CPU than
                # the accumulating index_put that advanced indexing backpropagates through
                real = torch.index_select(real, 0, getattr(self, f"hidx_{pid}")) * getattr(self, f"hsign_{pid}")
            params[name] = real.reshape(shape)
        return params

    def forward(self, x: torch.Tensor, coded: torch.Tensor) -> torch.Tensor:
        return logits_of(functional_call(self.net, self.expand(coded), (x,)))

    def buffer_state(self) -> dict:
        """The architecture's persistent buffers (BatchNorm statistics, ...), as the forward passes
        have left them: the part of its state dict that the coded vector does not hold."""
        params = {name for name, _ in self.net.named_parameters()}
        return {k: v for k, v in self.net.state_dict().items() if k not in params}

    def materialise(self, coded: torch.Tensor, buffers: Optional[dict] = None) -> nn.Module:
        """The plain architecture holding the vector's values (and `buffers`, else its own): what
        a user takes elsewhere (safetensors, ONNX, their own code)."""
        state = {k: v.detach().clone() for k, v in self.expand(coded).items()}
        state.update({k: v.clone() for k, v in (buffers if buffers is not None else self.buffer_state()).items()})
        net = self.spec.build()
        net.load_state_dict(state)
        return net.eval()

    def layer_sizes(self) -> list:
        return [int((self.layer_of == i).sum()) for i in range(self.n_layers)]
