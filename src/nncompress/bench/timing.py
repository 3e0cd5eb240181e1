"""Timing helpers: medians of repeated calls, interleaved so a drifting machine hits all alike."""
from __future__ import annotations

import statistics
import time

import torch


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn, repeats: int, device, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, device, repeats=5, rounds=5) -> dict:
    """Median seconds of each fn, timed in turn round after round (a drifting machine hits all alike)."""
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(median_seconds(fn, repeats, device, warmup=1))
    return {k: statistics.median(v) for k, v in times.items()}
