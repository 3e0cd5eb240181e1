"""Minimal random coding of one block, and the MRC codec (container kind "mrc", model.mrc).

A block with posterior q = N(mu, sigma^2) and coding distribution p = N(0, rho^2) draws K
candidates w_k = rho * z_k from the shared generator and transmits an index k* drawn with
probability proportional to q(w_k)/p(w_k) (or the argmax, `selection="argmax"`). Sampling uses
the Gumbel-max trick with noise indexed by candidate. The search (`coding.search`: a fast bounded
pass, optionally one compiled kernel, then exact rescoring of the few candidates it keeps)
selects an index that depends on the canonical values alone, not on the device or chunk size.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Optional

import torch

from nncompress.coding import bitpack, floats, raw_state, varint
from nncompress.coding.arch import read_arch, write_arch
from nncompress.coding.codec import Codec, Decoded, register
from nncompress.coding.search import SearchResult, candidate_key, search_block, selection_key  # noqa: F401
from nncompress.core import generator as G
from nncompress.core.blocks import BlockPartition
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

MAX_BITS = 32        # bits per block: 2**32 candidates is beyond any search
MAX_BLOCK = 1 << 16  # variables per block (the papers use 20-40)


def materialise(seed: int, block: int, index: int, rho: torch.Tensor) -> torch.Tensor:
    """The decoded values of one block (float32, CPU): rho * z_index, bit-exact everywhere."""
    z = G.canonical_normals(candidate_key(seed, block), index, rho.numel())
    return rho.detach().to("cpu", torch.float32) * z


# -- payload ---------------------------------------------------------------------------------
@dataclass
class MRCPayload:
    """What a decoder needs: the architecture, the shared seed, the block layout, the frozen
    per-layer coding scales and one index per block.

        arch header (layout "hashing", coding.arch) | varint seed | varint block_size
        | varint bits_per_block | varint n_layers | n_layers x float32 rho (little-endian)
        | [target architectures: its buffers, coding.raw_state, in state-dict order]
        | n_blocks x index, bit-packed MSB first in bits_per_block bits, zero-padded to a byte

    The coded vector holds every parameter; a `_target_` architecture's buffers (BatchNorm
    statistics) follow the scales, so the file rebuilds its whole state dict.
    """

    spec: ArchSpec
    seed: int
    block_size: int
    bits_per_block: int
    rho: torch.Tensor  # per-layer float32 scales of the frozen coding distribution
    indices: list
    buffers: Optional[dict] = None  # target architectures: the state entries that are not parameters

    def to_bytes(self) -> bytes:
        out = bytearray(write_arch(self.spec, "hashing"))
        for v in (self.seed, self.block_size, self.bits_per_block, len(self.rho)):
            out += varint.encode(int(v))
        out += struct.pack(f"<{len(self.rho)}f", *self.rho.tolist())
        if self.spec.target is not None:
            keys = buffer_keys(self.spec)
            out += raw_state.write(self.buffers or {}, keys)
        out += bitpack.pack(self.indices, self.bits_per_block)
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes, n_coded: int = None) -> MRCPayload:
        """Parse and validate, before anything is allocated: the architecture (`read_arch`), then
        block_size in 1..min(n_coded, MAX_BLOCK), bits_per_block in 1..MAX_BITS, one finite positive
        scale per layer, and an index section of exactly ceil(n_blocks * bits / 8) bytes whose
        padding bits are zero (nothing may follow it)."""
        spec, pos = read_arch(raw, 0, "hashing")
        n_coded = spec.n_coded() if n_coded is None else n_coded
        seed, pos = varint.decode(raw, pos)
        block_size, pos = varint.decode(raw, pos)
        if not 1 <= block_size <= min(n_coded, MAX_BLOCK):
            raise ValueError(f"block size {block_size} is outside 1..{min(n_coded, MAX_BLOCK)} "
                             f"({n_coded:,} coded variables)")
        bits, pos = varint.decode(raw, pos)
        if not 1 <= bits <= MAX_BITS:
            raise ValueError(f"{bits} bits per block is outside 1..{MAX_BITS}")
        n_layers, pos = varint.decode(raw, pos)
        if n_layers != len(spec.layer_names):
            raise ValueError(f"file has {n_layers} prior scales, {spec.name} has {len(spec.layer_names)} layers")
        rho, pos = floats.read(raw, pos, n_layers, "prior scales")
        if not bool(torch.all(rho > 0)):
            raise ValueError(f"prior scales must be positive, got {rho.tolist()}")
        buffers = None
        if spec.target is not None:
            with torch.device("meta"):
                template = spec.build().state_dict()
            buffers, pos = raw_state.read(raw, pos, template, buffer_keys(spec, template))
        n_blocks = math.ceil(n_coded / block_size)
        need = (n_blocks * bits + 7) // 8
        if len(raw) - pos != need:
            raise ValueError(f"index section is {len(raw) - pos} bytes; {n_blocks} blocks of {bits} bits take {need}")
        if (n_blocks * bits) % 8 and raw[-1] & ((1 << (-n_blocks * bits % 8)) - 1):
            raise ValueError("index padding bits are not zero")
        indices = bitpack.unpack(raw[pos:], bits, n_blocks)
        return cls(spec, seed, block_size, bits, rho, indices, buffers)


def buffer_keys(spec: ArchSpec, template: Optional[dict] = None) -> list:
    """The state-dict keys of an architecture that are not parameters, in order."""
    with torch.device("meta"):
        net = spec.build()
    template = net.state_dict() if template is None else template
    params = {name for name, _ in net.named_parameters()}
    return [k for k in template if k not in params]


def decode_weights(payload: MRCPayload, network: CodedNetwork = None):
    """Rebuild the network (unless given, built from payload.spec) and its coded vector from a payload alone."""
    network = network if network is not None else CodedNetwork(payload.spec)
    if len(payload.rho) != network.n_layers:
        raise ValueError(f"file has {len(payload.rho)} prior scales, architecture has {network.n_layers} layers")
    partition = BlockPartition(network.n_coded, payload.block_size, payload.seed)
    rho = payload.rho[network.layer_of]
    weights = torch.zeros(network.n_coded, dtype=torch.float32)
    full = network.n_coded // payload.block_size  # blocks of block_size members; the last may be shorter
    if full:
        blocks = torch.arange(full, dtype=torch.int64)
        keys = G.derive_keys(payload.seed, G.STREAM_CANDIDATES, last=blocks)
        z = G.canonical_normals_rows(keys, torch.tensor(payload.indices[:full], dtype=torch.int64),
                                     payload.block_size)
        members = partition.slots[:full]
        weights[members.flatten()] = (rho[members] * z).flatten()
    for b in range(full, len(payload.indices)):
        members = partition.members(b)
        weights[members] = materialise(payload.seed, b, payload.indices[b], rho[members])
    return network, weights


@register
class MRCCodec(Codec):
    """Block-wise minimal random coding (papers 000 / Havasi et al. 2019). The paper's ratio counts
    only the block indices: 32 * n_params / (n_blocks * bits_per_block)."""

    name, filename = "mrc", "model.mrc"

    def encode(self, export: MRCPayload, n_params: int):
        n_blocks = len(export.indices)
        return export.to_bytes(), {
            "block_size": export.block_size, "bits_per_block": export.bits_per_block, "n_blocks": n_blocks,
            "ratio_paper": 32 * n_params / (n_blocks * export.bits_per_block)}

    def decode(self, payload: bytes) -> Decoded:
        parsed = MRCPayload.from_bytes(payload)
        network, weights = decode_weights(parsed)
        if parsed.buffers:
            network.net.load_state_dict(parsed.buffers, strict=False)
        # A target architecture's file holds its BatchNorm statistics: evaluate with them. The named
        # architectures' MRC layout predates buffers, so their BatchNorm keeps normalising by batch.
        return Decoded(network.eval() if parsed.spec.target is not None else network, weights, spec=parsed.spec)
