"""The csr_huffman format, model.nnc (Deep Compression's, Han et al. 2015, as in paper 001):
quantised weights, empty units removed, CSR with relative column indices, Huffman-coded values.
Container kind "csr_huffman" (number 2 in the file).

Payload:
    arch header (layout "widths", coding.arch: name, sizes, out-width of every layer after
    structured pruning) | index_bits (1 byte) | varint K | K x float32 codebook (entry 0 is 0.0)
    | per layer: out x float32 bias | CSR of the codebook indices, weight viewed [out, in*kh*kw]

A `_target_` architecture (coding.arch's manifest) keeps its widths and may have layers without
a bias, so its layers hold the CSR alone, and every other state-dict entry (biases, norms,
embeddings, buffers) follows the last layer in the architecture's order (coding.raw_state),
counted by the paper's accounting as `raw_bits`.

The paper's accounting counts what a decoder needs beyond the architecture: Huffman-coded values
(with their code tables), packed gaps, row pointers, the codebook and the biases.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from nncompress.coding import csr as csr_mod
from nncompress.coding import floats, raw_state, varint
from nncompress.coding.arch import read_arch, write_arch
from nncompress.coding.codec import Codec, Decoded, register
from nncompress.models.spec import ArchSpec

COUNTED = ("values_bits", "index_bits", "row_ptr_bits", "codebook_bits", "bias_bits", "raw_bits")


@dataclass
class CompressedNet:
    spec: ArchSpec  # with the pruned widths
    codebook: torch.Tensor  # float32 [K], codebook[0] == 0
    indices: list  # per layer: int64 tensor, the weight's shape, codebook indices
    biases: list  # per layer: float32 [out] (target architectures: in `rest`)
    index_bits: int
    rest: Optional[dict] = None  # target architectures: every state entry but the layers' weights

    def rest_keys(self, template: Optional[dict] = None) -> list:
        with torch.device("meta"):
            template = self.spec.build().state_dict() if template is None else template
        weights = {f"{layer}.weight" for layer in self.spec.layer_names}
        return [k for k in template if k not in weights]

    def widths(self) -> list:
        return [int(i.shape[0]) for i in self.indices]

    def build(self) -> nn.Module:
        """The (narrower) architecture with the decoded weights loaded."""
        net = self.spec.build()
        state = dict(self.rest or {})
        for i, (layer, idx) in enumerate(zip(self.spec.layer_names, self.indices)):
            state[f"{layer}.weight"] = self.codebook[idx]
            if self.rest is None:
                state[f"{layer}.bias"] = self.biases[i]
        net.load_state_dict(state)
        return net.eval()

    # -- bytes ----------------------------------------------------------------------------
    def to_bytes(self) -> tuple:
        """(payload, bit breakdown of what was written)."""
        head = bytearray(write_arch(self.spec, "widths"))
        head += bytes([self.index_bits]) + varint.encode(len(self.codebook))
        codebook = struct.pack(f"<{len(self.codebook)}f", *self.codebook.tolist())
        bits = {"header_bits": 8 * len(head), "codebook_bits": 8 * len(codebook), "bias_bits": 0,
                "values_bits": 0, "index_bits": 0, "row_ptr_bits": 0, "csr_header_bits": 0,
                "values_header_bits": 0, "raw_bits": 0}
        body = bytearray()
        target = self.spec.target is not None
        for idx, bias in zip(self.indices, self.biases):
            b = b"" if target else struct.pack(f"<{len(bias)}f", *bias.tolist())
            body += b
            bits["bias_bits"] += 8 * len(b)
            matrix = csr_mod.to_relative_csr(idx.flatten(1), self.index_bits)
            body += csr_mod.serialize(matrix)
            parts = csr_mod.csr_bits(matrix)
            bits["values_bits"] += parts["values_bits"]
            bits["values_header_bits"] += parts["values_header_bits"]  # the code tables, inside values_bits
            bits["index_bits"] += parts["index_bits_total"]
            bits["row_ptr_bits"] += parts["row_ptr_bits"]
            bits["csr_header_bits"] += parts["header_bits"]
        if target:
            rest = raw_state.write(self.rest, self.rest_keys())
            body += rest
            bits["raw_bits"] = 8 * len(rest)
        return bytes(head) + codebook + bytes(body), bits

    @classmethod
    def from_bytes(cls, raw: bytes) -> CompressedNet:
        """Parse and validate: the architecture with its pruned widths (`read_arch`), index_bits in
        1..32, a codebook of finite values whose entry 0 is 0.0 (and no longer than the payload could
        hold), finite biases, each layer's CSR of exactly the layer's shape with indices inside the
        codebook, and nothing after the last layer."""
        spec, pos = read_arch(raw, 0, "widths")
        if pos >= len(raw) or not 1 <= raw[pos] <= 32:
            raise ValueError("index_bits missing or outside 1..32")
        index_bits = raw[pos]
        k, pos = varint.decode(raw, pos + 1, limit=(len(raw) - pos) // 4)
        codebook, pos = floats.read(raw, pos, k, "codebook")
        if k == 0 or float(codebook[0]) != 0.0:
            raise ValueError("codebook entry 0 must be exactly 0.0")
        template = spec.validate()  # shapes only (meta device)
        layers = spec.layer_names
        target = spec.target is not None
        shapes = [template.get_parameter(f"{layer}.weight").shape for layer in layers]
        indices, biases = [], []
        for layer, shape in zip(layers, shapes):
            if not target:
                bias, pos = floats.read(raw, pos, shape[0], f"{layer} bias")
                biases.append(bias)
            matrix, pos = csr_mod.deserialize(raw, pos, shape=(shape[0], shape[1:].numel()))
            idx = csr_mod.from_relative_csr(matrix)
            if idx.numel() and int(idx.max()) >= k:
                raise ValueError(f"{layer}: codebook index {int(idx.max())} past the codebook's {k} entries")
            indices.append(idx.reshape(shape))
        rest = None
        if target:
            net = cls(spec, codebook, indices, biases, index_bits)
            state = template.state_dict()
            rest, pos = raw_state.read(raw, pos, state, net.rest_keys(state))
        if pos != len(raw):
            raise ValueError(f"{len(raw) - pos} trailing bytes after the last layer")
        return cls(spec, codebook, indices, biases, index_bits, rest)


@register
class CSRHuffmanCodec(Codec):
    name, filename = "csr_huffman", "model.nnc"

    def encode(self, export: CompressedNet, n_params: int):
        payload, bits = export.to_bytes()
        counted = sum(bits[k] for k in COUNTED)
        return payload, {"ratio_paper": 32 * n_params / counted, "unique_values": int(len(export.codebook)),
                         "widths": export.widths(), **bits}

    def decode(self, payload: bytes) -> Decoded:
        net = CompressedNet.from_bytes(payload)
        return Decoded(net.build(), spec=net.spec)
