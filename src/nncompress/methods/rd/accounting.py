"""Compression ratio of a quantised network from its cluster counts (paper 003, section 5.3).

For a layer of m weights in k clusters of sizes m_j (Σ m_j = m), b bits per original weight:

    paper:    bits = m Σ_j (m_j/m) ⌈log₂(m/m_j)⌉ + k b = Σ_j m_j ⌈log₂(m/m_j)⌉ + k b
              (a Huffman-like code of ⌈log₂(1/p_j)⌉ bits per index, plus the codebook)
    entropy:  bits = m H(m_j/m) + k b,  H(p) = −Σ p_j log₂ p_j    (the public code: no ceiling)

    r = Σ_layers m b / Σ_layers bits,       b = 32;   the public code prints 1/r.

k is the number of clusters given (len(counts), empty ones included: their centres are stored),
and empty clusters cost no index bits. ⌈log₂(m/m_j)⌉ is computed in integers: the least c with
m_j 2^c ≥ m, i.e. bit_length(⌈m/m_j⌉ − 1), so exact powers of two never round up.
"""
from __future__ import annotations

import math
from typing import Sequence

BITS_PER_WEIGHT = 32


def _check(counts: Sequence[int]) -> list[int]:
    counts = [int(c) for c in counts]
    if not counts or any(c < 0 for c in counts) or sum(counts) == 0:
        raise ValueError(f"cluster counts must be non-negative with a positive total, got {counts}")
    return counts


def ceil_log2_ratio(m: int, m_j: int) -> int:
    """⌈log₂(m/m_j)⌉ exactly, for 1 ≤ m_j ≤ m."""
    return (-(-m // m_j) - 1).bit_length()


def paper_bits(counts: Sequence[int], b: int = BITS_PER_WEIGHT) -> int:
    """Σ_j m_j ⌈log₂(m/m_j)⌉ + k b for one layer."""
    counts = _check(counts)
    m = sum(counts)
    return sum(c * ceil_log2_ratio(m, c) for c in counts if c) + len(counts) * b


def entropy_bits(counts: Sequence[int], b: int = BITS_PER_WEIGHT) -> float:
    """m H(m_j/m) + k b for one layer."""
    counts = _check(counts)
    m = sum(counts)
    return -sum(c * math.log2(c / m) for c in counts if c) + len(counts) * b


def _layers(layers: Sequence[Sequence[int]]) -> list[list[int]]:
    if not layers:
        raise ValueError("no layers to account for")
    return [_check(c) for c in layers]


def paper_ratio(layers: Sequence[Sequence[int]], b: int = BITS_PER_WEIGHT) -> float:
    """The paper's r over layers given as lists of cluster counts."""
    layers = _layers(layers)
    return sum(sum(_check(c)) for c in layers) * b / sum(paper_bits(c, b) for c in layers)


def entropy_ratio(layers: Sequence[Sequence[int]], b: int = BITS_PER_WEIGHT) -> float:
    """The public code's r (label entropy, no ceiling) over layers of cluster counts."""
    layers = _layers(layers)
    return sum(sum(_check(c)) for c in layers) * b / sum(entropy_bits(c, b) for c in layers)
