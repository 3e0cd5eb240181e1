"""Ordered random coding (Theis & Yosri 2022), the ORC codec (container kind "orc", model.orc).

The encoder's selection law differs from MRC's (`coding.ordered`: candidate k gets the (k+1)-th
largest of N Gumbels instead of an i.i.d. one); the candidates, the fixed-length index and thus
the file's layout and decoding are those of MRC (`mrc.MRCPayload`):

    arch header (layout "hashing", coding.arch) | varint seed | varint block_size
    | varint bits_per_block | varint n_layers | n_layers x float32 rho (little-endian)
    | n_blocks x index, bit-packed MSB first in bits_per_block bits, zero-padded to a byte

with MRC's rules for untrusted files (`MRCPayload.from_bytes`). Every index costs bits_per_block
bits, as MRC's does; what ORC changes is how close the coded sample is to the posterior for the
same number of candidates (experiments/README.md, "MIRACLE's coders").
"""
from __future__ import annotations

from nncompress.coding import ordered
from nncompress.coding.codec import register
from nncompress.coding.mrc import MRCCodec


def search_block(seed: int, block: int, mu, sigma, rho, n_candidates: int, **kw) -> ordered.OrderedResult:
    """The ORC index of one block among n_candidates (`ordered.search_block`, law "orc")."""
    return ordered.search_block(seed, block, mu, sigma, rho, n_candidates, "orc", **kw)


@register
class ORCCodec(MRCCodec):
    """MRC's payload and decoder under ORC's selection law; the paper ratio counts the indices only."""

    name, filename = "orc", "model.orc"
