"""Prune or quantise a trained network by an importance (paper 003, sections 5.3 and 6), and the
codebooks that write it exactly into model.cbk.

Every Linear and Conv2d weight (first and last layer included) is compressed the same way;
biases and BatchNorm statistics stay as they are (the paper compresses the weights only, and the
codebook file stores the rest raw).

- prune: keep the ⌈keep·n⌉ weights of each layer with the largest I·w² (+ Q·w⁴ for grad_hessian),
  zero the rest (pruning.scored). Codebook of a layer: 0.0 at index 0, then its distinct kept
  values, so the file holds each weight exactly (CSR where at least half is zero).
- quantize: k = 2^bits centres per layer by I-weighted k-means, or Algorithm 2's quartic k-means
  for grad_hessian (quantization.weighted), quantile initialisation; the codebook is the centres.

Accounting (`accounting.py`, section 5.3), over the compressed weights only, b = 32:
- quantize: the paper's r = Σ m·b / Σ (Σ_j m_j ⌈log₂(m/m_j)⌉ + k·b) per layer, and the public
  code's entropy version (no ceiling); `rate_paper` = 1/r, the x-axis the public code prints.
- prune: the paper plots pruning against the kept fraction, so `rate_paper` = nonzero fraction
  and r = 1/rate_paper; the entropy version counts what a sparse file must hold at best: the
  zero/nonzero mask at its binary entropy plus b bits per kept weight,
  r = Σ m·b / Σ (m·h(nnz/m) + nnz·b).
`unique_values` and `entropy_bits` (bits per weight of the pooled value distribution) as paper
002 defines them, over the compressed weights.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from nncompress.importance import Importance, target_layers
from nncompress.methods.rd.accounting import BITS_PER_WEIGHT, entropy_ratio, paper_ratio
from nncompress.pruning.scored import nonzero_fraction, prune_masks
from nncompress.quantization.weighted import clusters_for_bits, quantize_weight


@dataclass
class Compressed:
    net: nn.Module                             # a compressed copy of the network (the input is untouched)
    codes: dict                                # weight name -> (float32 codebook, int64 indices)
    keys: dict = field(default_factory=dict)   # results.json keys


def _weights(net: nn.Module) -> dict:
    return {k: m.weight for k, m in target_layers(net).items()}


def _value_stats(weights: dict) -> dict:
    values = torch.cat([w.detach().flatten().double().cpu() for w in weights.values()]) + 0.0  # -0.0 -> 0.0
    _, counts = torch.unique(values, return_counts=True)
    p = counts.double() / counts.sum()
    return {"unique_values": int(counts.numel()), "entropy_bits": float(-(p * torch.log2(p)).sum()) + 0.0,
            "nonzero_fraction": nonzero_fraction(weights)}


def pruning_codes(weight: torch.Tensor) -> tuple:
    """(codebook, indices) holding `weight` exactly: 0.0 at index 0, then its distinct nonzero values."""
    w = weight.detach().cpu().float()
    nonzero = torch.unique(w[w != 0])  # sorted
    codebook = torch.cat([torch.zeros(1), nonzero])
    idx = torch.where(w != 0, torch.searchsorted(nonzero, w.contiguous()) + 1, torch.zeros_like(w, dtype=torch.long))
    return codebook, idx.long()


def binary_entropy(p: float) -> float:
    return 0.0 if p <= 0 or p >= 1 else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def prune(net: nn.Module, importance: Importance, keep: float) -> Compressed:
    """Keep ⌈keep·n⌉ weights per layer by the importance score; the others become exactly 0.0."""
    out = copy.deepcopy(net)
    weights = _weights(out)
    masks = prune_masks(weights, importance.first, keep, importance.quartic)
    with torch.no_grad():
        for k, w in weights.items():
            w.copy_(torch.where(masks[k], w, torch.zeros_like(w)))  # where, not w·0, so no -0.0
    codes = {k: pruning_codes(w) for k, w in weights.items()}
    m = {k: w.numel() for k, w in weights.items()}
    nnz = {k: int(torch.count_nonzero(w)) for k, w in weights.items()}
    total, kept = sum(m.values()), sum(nnz.values())
    b = BITS_PER_WEIGHT
    entropy_cost = sum(m[k] * binary_entropy(nnz[k] / m[k]) + nnz[k] * b for k in m)
    keys = {"keep": keep, **_value_stats(weights), "rate_paper": kept / total,
            "ratio_paper": total / kept if kept else math.inf,
            "ratio_entropy": total * b / entropy_cost if entropy_cost else math.inf}
    return Compressed(out, codes, keys)


def quantize(net: nn.Module, importance: Importance, bits: int, max_iter: int = 30) -> Compressed:
    """k = 2^bits importance-weighted k-means centres per layer (Algorithm 2 with a quartic term)."""
    out = copy.deepcopy(net)
    weights = _weights(out)
    codes, counts = {}, []
    with torch.no_grad():
        for k, w in weights.items():
            quartic = None if importance.quartic is None else importance.quartic[k]
            centres, idx = quantize_weight(w, importance.first[k], bits, quartic, max_iter)
            centres = centres.detach().float()
            w.copy_(centres[idx])
            codes[k] = (centres.cpu(), idx.cpu().long())
            counts.append(torch.bincount(idx.flatten(), minlength=centres.numel()).tolist())
    r = paper_ratio(counts)
    keys = {"bits": bits, "clusters": clusters_for_bits(bits), **_value_stats(weights), "rate_paper": 1 / r,
            "ratio_paper": r, "ratio_entropy": entropy_ratio(counts)}
    return Compressed(out, codes, keys)
