"""Deep-Compression file (Han et al. 2015, as in paper 001): quantised weights, empty units
removed, CSR with relative column indices, Huffman-coded values.

Payload (container kind "csr_huffman"):
    varint len(name) | name | varint in_channels, num_classes, image_size
    | varint n_layers | n_layers x varint out-width (after structured pruning)
    | index_bits (1 byte) | varint K | K x float32 codebook (entry 0 is 0.0)
    | per layer: out x float32 bias | CSR of the codebook indices, weight viewed [out, in*kh*kw]
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import torch
from torch import nn

from nncompress.coding import csr as csr_mod, varint
from nncompress.models.lenet import ARCHITECTURES


@dataclass
class CompressedNet:
    name: str
    in_channels: int
    num_classes: int
    image_size: int
    codebook: torch.Tensor  # float32 [K], codebook[0] == 0
    indices: list  # per layer: int64 tensor, the weight's shape, codebook indices
    biases: list  # per layer: float32 [out]
    index_bits: int

    def widths(self) -> list:
        return [int(i.shape[0]) for i in self.indices]

    def build(self) -> nn.Module:
        """The (narrower) architecture with the decoded weights loaded."""
        net = ARCHITECTURES[self.name](self.in_channels, self.num_classes, self.image_size,
                                       widths=tuple(self.widths()[:-1]))
        state = {}
        for layer, idx, bias in zip(net.layer_names, self.indices, self.biases):
            state[f"{layer}.weight"] = self.codebook[idx]
            state[f"{layer}.bias"] = bias
        net.load_state_dict(state)
        return net.eval()

    # -- bytes ----------------------------------------------------------------------------
    def to_bytes(self) -> tuple:
        """(payload, bit breakdown of what was written)."""
        head = bytearray(varint.encode(len(self.name)) + self.name.encode())
        for v in (self.in_channels, self.num_classes, self.image_size, len(self.indices), *self.widths()):
            head += varint.encode(int(v))
        head += bytes([self.index_bits]) + varint.encode(len(self.codebook))
        codebook = struct.pack(f"<{len(self.codebook)}f", *self.codebook.tolist())
        bits = {"header_bits": 8 * len(head), "codebook_bits": 8 * len(codebook), "bias_bits": 0,
                "values_bits": 0, "index_bits": 0, "row_ptr_bits": 0, "csr_header_bits": 0}
        body = bytearray()
        for idx, bias in zip(self.indices, self.biases):
            b = struct.pack(f"<{len(bias)}f", *bias.tolist())
            body += b
            bits["bias_bits"] += 8 * len(b)
            matrix = csr_mod.to_relative_csr(idx.flatten(1), self.index_bits)
            body += csr_mod.serialize(matrix)
            parts = csr_mod.csr_bits(matrix)
            bits["values_bits"] += parts["values_bits"]
            bits["index_bits"] += parts["index_bits_total"]
            bits["row_ptr_bits"] += parts["row_ptr_bits"]
            bits["csr_header_bits"] += parts["header_bits"]
        return bytes(head) + codebook + bytes(body), bits

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CompressedNet":
        n, pos = varint.decode(raw, 0)
        name = raw[pos : pos + n].decode("ascii")
        pos += n
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown architecture '{name}'")
        vals = []
        for _ in range(4):
            v, pos = varint.decode(raw, pos)
            vals.append(v)
        in_channels, num_classes, image_size, n_layers = vals
        widths = []
        for _ in range(n_layers):
            v, pos = varint.decode(raw, pos)
            widths.append(v)
        index_bits = raw[pos]
        k, pos = varint.decode(raw, pos + 1)
        codebook = torch.tensor(struct.unpack_from(f"<{k}f", raw, pos), dtype=torch.float32)
        pos += 4 * k
        template = ARCHITECTURES[name](in_channels, num_classes, image_size, widths=tuple(widths[:-1]))
        shapes = [template.get_parameter(f"{layer}.weight").shape for layer in template.layer_names]
        indices, biases = [], []
        for shape, width in zip(shapes, widths):
            biases.append(torch.tensor(struct.unpack_from(f"<{width}f", raw, pos), dtype=torch.float32))
            pos += 4 * width
            matrix, pos = csr_mod.deserialize(raw, pos)
            idx = csr_mod.from_relative_csr(matrix)
            if idx.numel() != shape.numel() or (idx.numel() and int(idx.max()) >= k):
                raise ValueError("layer shape or codebook index out of range")
            indices.append(idx.reshape(shape))
        return cls(name, in_channels, num_classes, image_size, codebook, indices, biases, index_bits)


def build_compressed(name, sizes, indices: list, biases: list, codebook: torch.Tensor, index_bits: int):
    """Drop unused codebook entries (keeping 0 first), remove empty units, return CompressedNet."""
    used = torch.unique(torch.cat([i.flatten() for i in indices] + [torch.zeros(1, dtype=torch.int64)]))
    remap = torch.full((len(codebook),), -1, dtype=torch.int64)
    remap[used] = torch.arange(len(used))
    indices = [remap[i] for i in indices]
    codebook = codebook[used].float()
    if codebook[0] != 0:
        raise ValueError("codebook entry 0 must be the zero value")
    from nncompress.pruning.structured import remove_empty_units

    indices, biases, _ = remove_empty_units(indices, [b.detach().float() for b in biases])
    return CompressedNet(name, *sizes, codebook, indices, biases, index_bits)
