"""The Poisson functional representation with a variable-length index, the PFR codec (container
kind "pfr", model.pfr).

The encoder (`coding.ordered`, law "pfr") picks the index K = argmin_k T_k / (q/p)(w_k) of Li &
El Gamal (2018) among at most 2^C of MRC's candidates; the decoder rebuilds w_K = rho z_K exactly
as MRC's does (`mrc.decode_weights`). Where MRC spends C bits on every index, a PFR index is
small with high probability, E[log2 (K+1)] <= KL + e^-1 log2 e + 1 (Li & El Gamal 2018, proof of
Theorem 1), and is written with a universal code, the exponential-Golomb code (`expgolomb`) of the
order m that makes the file's indices shortest: about log2 K + 1 bits for K near 2^m, and
log2 K + O(log log K) beyond. Li & El Gamal's bound for their own index code is
KL + log2(KL + 1) + 4 bits per block (Theorem 1); experiments/README.md compares both.

    arch header (layout "hashing", coding.arch) | varint seed | varint block_size
    | varint candidates_log2 C | varint order m | varint n_layers
    | n_layers x float32 rho (little-endian)
    | n_blocks x exp-Golomb code of order m of the block's index, MSB first, zero-padded to a byte

Rules for untrusted files (`PFRPayload.from_bytes`), checked before anything is allocated: the
architecture (`read_arch`), block_size in 1..min(n_coded, MAX_BLOCK), C in 1..MAX_BITS, m in 0..C,
one finite positive scale per layer, an index section no shorter than n_blocks codes of m + 1
bits and no longer than n_blocks of the longest code of an index below 2^C; then every index
below 2^C (a code is refused by its run of zeros, before it is read), the section used up with at
most 7 zero bits of padding and nothing after it.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import torch

from nncompress.coding import expgolomb, floats, ordered, varint
from nncompress.coding.arch import read_arch, write_arch
from nncompress.coding.codec import Codec, Decoded, register
from nncompress.coding.mrc import MAX_BITS, MAX_BLOCK, decode_weights
from nncompress.models.spec import ArchSpec


def search_block(seed: int, block: int, mu, sigma, rho, n_candidates: int, **kw) -> ordered.OrderedResult:
    """The PFR index of one block among at most n_candidates (`ordered.search_block`, law "pfr")."""
    return ordered.search_block(seed, block, mu, sigma, rho, n_candidates, "pfr", **kw)


@dataclass
class PFRPayload:
    """What a decoder needs: as `mrc.MRCPayload`, with the candidate bound 2^C instead of a fixed
    index width, and the indices in a universal code (module docstring). `order` None: the best
    order for these indices (`expgolomb.best_order`), chosen when written."""

    spec: ArchSpec
    seed: int
    block_size: int
    candidates_log2: int
    rho: torch.Tensor  # per-layer float32 scales of the frozen coding distribution
    indices: list
    order: int = None

    def __post_init__(self):
        if not 1 <= self.candidates_log2 <= MAX_BITS:
            raise ValueError(f"candidates_log2 {self.candidates_log2} is outside 1..{MAX_BITS}")
        if self.indices and not 0 <= min(self.indices) <= max(self.indices) < 1 << self.candidates_log2:
            raise ValueError(f"an index is outside 0..2^{self.candidates_log2} - 1")
        if self.order is None:
            self.order = expgolomb.best_order(self.indices, self.candidates_log2)

    @property
    def index_bits(self) -> int:
        return sum(expgolomb.code_length(int(k), self.order) for k in self.indices)

    def to_bytes(self) -> bytes:
        out = bytearray(write_arch(self.spec, "hashing"))
        for v in (self.seed, self.block_size, self.candidates_log2, self.order, len(self.rho)):
            out += varint.encode(int(v))
        out += struct.pack(f"<{len(self.rho)}f", *self.rho.tolist())
        out += expgolomb.encode(self.indices, self.order)
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes, n_coded: int = None) -> PFRPayload:
        """Parse and validate (module docstring) before anything is allocated."""
        spec, pos = read_arch(raw, 0, "hashing")
        n_coded = spec.n_coded() if n_coded is None else n_coded
        seed, pos = varint.decode(raw, pos)
        block_size, pos = varint.decode(raw, pos)
        if not 1 <= block_size <= min(n_coded, MAX_BLOCK):
            raise ValueError(f"block size {block_size} is outside 1..{min(n_coded, MAX_BLOCK)} "
                             f"({n_coded:,} coded variables)")
        log2, pos = varint.decode(raw, pos)
        if not 1 <= log2 <= MAX_BITS:
            raise ValueError(f"candidates_log2 {log2} is outside 1..{MAX_BITS}")
        order, pos = varint.decode(raw, pos)
        if order > log2:
            raise ValueError(f"exp-Golomb order {order} is over candidates_log2 {log2}")
        n_layers, pos = varint.decode(raw, pos)
        if n_layers != len(spec.layer_names):
            raise ValueError(f"file has {n_layers} prior scales, {spec.name} has {len(spec.layer_names)} layers")
        rho, pos = floats.read(raw, pos, n_layers, "prior scales")
        if not bool(torch.all(rho > 0)):
            raise ValueError(f"prior scales must be positive, got {rho.tolist()}")
        n_blocks = math.ceil(n_coded / block_size)
        shortest, longest = order + 1, expgolomb.code_length((1 << log2) - 1, order)
        lo, hi = (n_blocks * shortest + 7) // 8, (n_blocks * longest + 7) // 8
        if not lo <= len(raw) - pos <= hi:
            raise ValueError(f"index section is {len(raw) - pos} bytes; {n_blocks} codes of {shortest} to "
                             f"{longest} bits take {lo} to {hi}")
        indices = expgolomb.decode(raw[pos:], order, n_blocks, (1 << log2) - 1)
        return cls(spec, seed, block_size, log2, rho, indices, order)


@register
class PFRCodec(Codec):
    """Block-wise PFR (Li & El Gamal 2018) with exp-Golomb indices. The paper-style ratio counts the
    index codes only: 32 * n_params / (total bits of the n_blocks codes)."""

    name, filename = "pfr", "model.pfr"

    def encode(self, export: PFRPayload, n_params: int):
        raw = export.to_bytes()
        bits, n_blocks = export.index_bits, len(export.indices)
        return raw, {
            "block_size": export.block_size, "candidates_log2": export.candidates_log2, "n_blocks": n_blocks,
            "golomb_order": export.order, "index_bits": bits, "index_bits_per_block": bits / max(n_blocks, 1),
            "ratio_paper": 32 * n_params / max(bits, 1)}

    def decode(self, payload: bytes) -> Decoded:
        parsed = PFRPayload.from_bytes(payload)
        network, weights = decode_weights(parsed)
        return Decoded(network.eval() if parsed.spec.target is not None else network, weights, spec=parsed.spec)
