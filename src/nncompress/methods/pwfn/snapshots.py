"""What Figure 1 of paper 002's appendix draws: mu against sigma of the weights of each layer, at
initialisation (eq. 8) and after the last round, saved as figure1.npz in the run dir.

A snapshot holds, per Bayes-by-backprop layer, the effective mean and sigma of its weight tensor (the
centre and the group spread where fixed) at up to MAX_POINTS entries; the entries are the same in
every snapshot of a run (a seeded choice that depends only on the layer's position and size), so
points can be followed from one state to the next. Three states: "init" (after eq. 8, before any
training), "trained" (after the last round's training, before its fixing) and "final".

figure1.npz keys: layers (names), index_<i> (the entries of layer i drawn, flat), and
mu_<state>_<i>, sigma_<state>_<i> (float32) for each state present.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

MAX_POINTS = 20_000


def _entries(numel: int, position: int) -> torch.Tensor:
    if numel <= MAX_POINTS:
        return torch.arange(numel)
    generator = torch.Generator().manual_seed(position)
    return torch.randperm(numel, generator=generator)[:MAX_POINTS].sort().values


def snapshot(module) -> dict:
    """{layer name: (entries, mu, sigma)} of every Bayesian layer's weight tensor, on the CPU."""
    out = {}
    for position, (name, layer) in enumerate(module.named_layers()):
        mean, std = layer.mean("weight").detach().flatten().cpu(), layer.std("weight").detach().flatten().cpu()
        entries = _entries(mean.numel(), position)
        out[name] = (entries, mean[entries].clone(), std[entries].clone())
    return out


def save_figure1(path: Path, snapshots: dict) -> Path:
    """figure1.npz from the snapshots of one run (states in the order init, trained, final)."""
    layers = list(next(iter(snapshots.values())))
    arrays = {"layers": np.array(layers)}
    for i, layer in enumerate(layers):
        entries = snapshots["init"][layer][0] if "init" in snapshots else next(iter(snapshots.values()))[layer][0]
        arrays[f"index_{i}"] = entries.numpy()
        for state, snap in snapshots.items():
            _, mu, sigma = snap[layer]
            arrays[f"mu_{state}_{i}"] = mu.float().numpy()
            arrays[f"sigma_{state}_{i}"] = sigma.float().numpy()
    np.savez_compressed(path, **arrays)
    return Path(path)
