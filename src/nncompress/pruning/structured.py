"""Remove units (rows / channels) that cannot affect the output, with the matching inputs.

Unit j of layer i goes when its weights and bias are all zero (it emits ReLU(0) = 0, so it
feeds nothing forward) or when the next layer reads nothing from it (all of its input
columns there are zero). Removals expose new ones, so it repeats until nothing changes.
The output layer's units (classes) are never removed, and every layer keeps at least one unit
(a network pruned to nothing still decodes: it outputs its last bias). Only exact zeros leave
the sums, so the outputs change by float summation order alone.
"""
from __future__ import annotations

import torch


def _unit_view(next_weight: torch.Tensor, n_units: int) -> torch.Tensor:
    """Next layer's weight as [out, n_units, k]: the k input columns each unit feeds."""
    return next_weight.reshape(next_weight.shape[0], n_units, -1)


def remove_empty_units(weights: list, biases: list):
    """weights[i]: [out_i, ...] (conv [out, in, kh, kw] or linear [out, in]); a unit's inputs in
    layer i+1 are contiguous (channel-major flattening). Returns (weights, biases, kept) with
    kept[i] the surviving unit indices of layer i."""
    weights, biases = list(weights), list(biases)
    kept = [torch.arange(w.shape[0]) for w in weights]
    changed = True
    while changed:
        changed = False
        for i in range(len(weights) - 1):
            w, b, nxt = weights[i], biases[i], weights[i + 1]
            n = w.shape[0]
            dead_out = (w.flatten(1) == 0).all(1) & (b == 0)
            unused = (_unit_view(nxt, n) == 0).all(2).all(0)
            keep = ~(dead_out | unused)
            if not keep.any():  # a layer of width 0 cannot be built (conv); one zero unit stays
                keep[0] = True
            if keep.all():
                continue
            changed = True
            weights[i], biases[i], kept[i] = w[keep], b[keep], kept[i][keep]
            view = _unit_view(nxt, n)[:, keep]
            weights[i + 1] = view.reshape(nxt.shape[0], -1, *nxt.shape[2:])
    return weights, biases, kept
