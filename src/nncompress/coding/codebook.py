"""Codebook file (container kind "codebook", model.cbk): any architecture's full state, its weight
tensors replaced by per-tensor codebooks and Huffman-coded indices, CSR where sparse.

For post-training pruning / quantisation (paper 003) and weight fixing (paper 002): nothing is
removed from the architecture (a pruned unit of a BatchNorm network need not output zero), so
the decoder builds the architecture from the header and fills its state dict in order.

Payload:
    arch header (layout "hashing", coding.arch) | varint n_entries (the architecture's state dict)
    | per state-dict entry, in the architecture's order, a tag byte and its data:
        0  raw:    numel x float32 (little-endian)            biases, BatchNorm statistics, …
        1  dense:  varint K | K x float32 codebook | huffman.encode(indices, row-major)
        2  sparse: varint K | K x float32 codebook (entry 0 is 0.0)
                   | csr.serialize of the indices viewed [out, numel / out]
        3  int:    numel x varint                              counters (num_batches_tracked)
        4  sparse raw: csr.serialize of the nonzero mask (values 1, fillers 0) viewed [out, numel / out]
                   | nnz x float32 of the nonzero values, row-major        pruned, unquantised weights

Each coded tensor (codebook[indices]) is written the smallest lossless way: dense or sparse
indices when its codebook is small; raw, or sparse raw where at least half of it is the zero at
codebook index 0, when the codebook is large (pruning keeps the original floats: a codebook entry
per kept weight would cost more than the weight). The relative column index width is the one of
1..8 bits that `index_width` estimates smallest.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from nncompress.coding import csr as csr_mod
from nncompress.coding import floats, huffman, varint
from nncompress.coding.arch import read_arch, write_arch
from nncompress.coding.codec import Codec, Decoded, register
from nncompress.models.spec import ArchSpec

RAW, DENSE, SPARSE, INT, SPARSE_RAW = 0, 1, 2, 3, 4
LARGE_CODEBOOK = 4096  # beyond this many values, Huffman-coding the indices is neither small nor fast


@dataclass
class CodebookNet:
    """An architecture's state with some tensors held as (codebook, indices)."""

    spec: ArchSpec
    state: dict  # name -> tensor, every entry of spec.build().state_dict()
    codes: dict = field(default_factory=dict)  # name -> (float32 codebook [K], int64 indices of the tensor's shape)

    @classmethod
    def from_network(cls, spec: ArchSpec, net: torch.nn.Module, codes: dict) -> CodebookNet:
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        for name, (_, idx) in codes.items():
            if tuple(idx.shape) != tuple(state[name].shape):
                raise ValueError(f"{name}: indices of shape {tuple(idx.shape)} for a tensor of "
                                 f"{tuple(state[name].shape)}")
        return cls(spec, state, {k: (c.detach().cpu().float(), i.detach().cpu().long()) for k, (c, i) in codes.items()})

    def build(self) -> torch.nn.Module:
        net = self.spec.build()
        state = dict(self.state)
        for name, (codebook, idx) in self.codes.items():
            state[name] = codebook[idx]
        net.load_state_dict(state)
        return net.eval()


def index_width(rows: torch.Tensor) -> int:
    """The relative column index width of 1..8 bits that minimises the CSR's gaps and fillers: a gap
    g costs floor(g / 2^b) filler entries, and every entry b bits plus its value's code (~2 bits for
    the filler zero)."""
    nz = torch.nonzero(rows)
    if len(nz) == 0:
        return 1
    first = torch.ones(len(nz), dtype=torch.bool)
    first[1:] = nz[1:, 0] != nz[:-1, 0]
    gaps = torch.where(first, nz[:, 1], nz[:, 1] - torch.roll(nz[:, 1], 1) - 1)
    costs = [(len(nz) + int((gaps >> b).sum())) * b + 2 * int((gaps >> b).sum()) for b in range(1, 9)]
    return 1 + min(range(8), key=costs.__getitem__)


def _csr(rows: torch.Tensor) -> bytes:
    return csr_mod.serialize(csr_mod.to_relative_csr(rows, index_width(rows)))


def _encode_coded(codebook: torch.Tensor, idx: torch.Tensor) -> tuple:
    """(tag, bytes) of one coded tensor: the smallest of the encodings that apply (module docstring)."""
    rows = idx.reshape(idx.shape[0], -1) if idx.dim() > 1 else idx.reshape(1, -1)
    sparse = bool(len(codebook)) and float(codebook[0]) == 0.0 and float((idx == 0).float().mean()) >= 0.5
    options = []
    if len(codebook) <= LARGE_CODEBOOK:
        head = varint.encode(len(codebook)) + floats.pack(codebook)
        options.append((DENSE, head + huffman.encode(idx.flatten().tolist())))
        if sparse:
            options.append((SPARSE, head + _csr(rows)))
    else:
        options.append((RAW, floats.pack(codebook[idx])))
    if sparse:
        values = codebook[rows][rows != 0]  # row-major, as the mask's CSR lists them
        options.append((SPARSE_RAW, _csr((rows != 0).long()) + floats.pack(values)))
    return min(options, key=lambda option: len(option[1]))


def encode(net: CodebookNet) -> tuple:
    """(payload, size breakdown in bits)."""
    template = net.spec.build().state_dict()
    if list(template) != list(net.state):
        raise ValueError("the state does not match the architecture's state dict")
    # spec.build() ignores hashing: the state is the plain architecture's, and the header says so
    out = bytearray(write_arch(replace(net.spec, hashing={}), "hashing")) + varint.encode(len(template))
    bits = {"header_bits": 8 * len(out), "raw_bits": 0, "coded_bits": 0, "sparse_tensors": 0, "dense_tensors": 0}
    for name, tensor in net.state.items():
        if name in net.codes:
            tag, data = _encode_coded(*net.codes[name])
            bits["coded_bits"] += 8 * (1 + len(data))
            bits["sparse_tensors" if tag in (SPARSE, SPARSE_RAW) else "dense_tensors"] += 1
        elif tensor.dtype.is_floating_point:
            tag, data = RAW, floats.pack(tensor)
            bits["raw_bits"] += 8 * (1 + len(data))
        else:
            tag, data = INT, b"".join(varint.encode(int(v)) for v in tensor.flatten().tolist())
            bits["raw_bits"] += 8 * (1 + len(data))
        out += bytes([tag]) + data
    return bytes(out), bits


def decode(raw: bytes) -> CodebookNet:
    """Parse and validate: an unhashed architecture (`read_arch`), its state-dict length, then each
    entry in order: known tag; codebook sizes no longer than the payload could hold; finite floats
    (a sparse codebook's entry 0 exactly 0.0); CSRs of exactly the tensor's [out, numel / out]
    shape; indices inside the codebook; integers within int64; and nothing after the last entry."""
    spec, pos = read_arch(raw, 0, "hashing")
    if spec.hashing:
        raise ValueError(f"codebook files hold unhashed architectures; this one hashes {sorted(spec.hashing)}")
    template = spec.validate().state_dict()  # shapes and dtypes only (meta device)
    n, pos = varint.decode(raw, pos)
    if n != len(template):
        raise ValueError(f"file holds {n} state entries, {spec.name} has {len(template)}")
    state, codes = {}, {}
    for name, like in template.items():
        if pos >= len(raw):
            raise ValueError(f"{name}: truncated before its tag")
        tag, pos, numel = raw[pos], pos + 1, like.numel()
        shape = (like.shape[0], numel // like.shape[0]) if like.dim() > 1 else (1, numel)
        if tag == RAW:
            values, pos = floats.read(raw, pos, numel, name)
            state[name] = values.to(like.dtype).reshape(like.shape)
        elif tag == SPARSE_RAW:
            matrix, pos = csr_mod.deserialize(raw, pos, shape=shape)
            mask = csr_mod.from_relative_csr(matrix)
            if numel and int(mask.max()) > 1:
                raise ValueError(f"{name}: a nonzero mask holds the value {int(mask.max())}")
            values, pos = floats.read(raw, pos, int(mask.sum()), name)
            dense = torch.zeros(mask.shape, dtype=like.dtype)
            dense[mask != 0] = values.to(like.dtype)
            state[name] = dense.reshape(like.shape)
        elif tag == INT:
            if numel > len(raw) - pos:
                raise ValueError(f"{name}: {numel} integers in {len(raw) - pos} bytes")
            values = []
            for _ in range(numel):
                v, pos = varint.decode(raw, pos, limit=(1 << 63) - 1)
                values.append(v)
            state[name] = torch.tensor(values, dtype=like.dtype).reshape(like.shape)
        elif tag in (DENSE, SPARSE):
            k, pos = varint.decode(raw, pos, limit=(len(raw) - pos) // 4)
            codebook, pos = floats.read(raw, pos, k, f"{name} codebook")
            if tag == DENSE:
                flat, pos = huffman.decode_from(raw, pos, expect=numel)
                idx = torch.tensor(flat, dtype=torch.int64)
            else:
                if k == 0 or float(codebook[0]) != 0.0:
                    raise ValueError(f"{name}: a sparse tensor's codebook entry 0 must be exactly 0.0")
                matrix, pos = csr_mod.deserialize(raw, pos, shape=shape)
                idx = csr_mod.from_relative_csr(matrix)
            if numel and int(idx.max()) >= k:
                raise ValueError(f"{name}: codebook index {int(idx.max())} past the codebook's {k} entries")
            codes[name] = (codebook, idx.reshape(like.shape))
            state[name] = torch.zeros(like.shape, dtype=like.dtype)
        else:
            raise ValueError(f"{name}: unknown tensor tag {tag}")
    if pos != len(raw):
        raise ValueError(f"{len(raw) - pos} trailing bytes after the last tensor")
    return CodebookNet(spec, state, codes)


@register
class CodebookCodec(Codec):
    """The accounting of paper 002 / 003 is the family's (unique values and entropy, or the
    cluster-count formula); the codec reports what it wrote."""

    name, filename = "codebook", "model.cbk"

    def encode(self, export: CodebookNet, n_params: int):
        return encode(export)

    def decode(self, payload: bytes) -> Decoded:
        net = decode(payload)
        return Decoded(net.build(), spec=net.spec)
