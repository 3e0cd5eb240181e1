"""Decoder fuzzing (issue 12): mutants of real files of every container kind, what the decoders
made of them, and what the worst of them cost. Test infrastructure, run from the repo root:

    python tests/fuzz_bench.py [--cases 3000] [--out fuzz.json]

For each kind, `n` mutants (`mutants.mutate`, tests/mutants.py, each case its own seeded chooser, so case i
of a kind is reproducible alone: `mutant(kind, i, seed)`), each read twice (CRC-32 recomputed,
and the seed's CRC kept). Recorded per kind: counts by outcome (decoded / rejected with
ContainerError / failure), failures by exception type and by message class with an example
recipe and a minimal file (`mutants.minimise`), rejections that only a catch-all around the
decoder turned into a ContainerError (errors its checks did not anticipate), the longest single
decode, the largest decode time over its seed's, and the largest peak-RSS growth of one decode
(the kernel's high-water mark reset before each case) with their mutants, beside what the
legitimate seeds need. Mutants are the tests' (tests/coding/test_fuzz.py) plus, for MRC, heavier
consistent re-encodings (`mutate(..., extreme=True)`). A decode running past `time_limit`
seconds is interrupted and counted as a failure "timeout"; the process's address space is capped
at its size + `memory_limit` bytes, so a mutant asking for terabytes fails (with the allocator's
error, a failure raw or wrapped) instead of killing the run.
"""
from __future__ import annotations

import argparse
import collections
import json
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/: mutants.py

from mutants import (  # noqa: E402
    KINDS,
    Outcome,
    PeakRSS,
    RandomChooser,
    address_space_limit,
    check,
    minimise,
    mutate,
    seeds,
)
from nncompress.coding.codec import get_codec


class _Timeout(BaseException):
    pass


def mutant(kind: str, i: int, seed: int = 0, bn: bool = True):
    """Case i of `kind` (the same mutant every time). With `bn`, every 8th codebook case mutates the
    BatchNorm seed (cifar_cnn, whose every decode builds 9.3 M parameters), the rest the small seeds."""
    pool = seeds(kind, False)
    if bn and kind == "codebook" and i % 8 == 7:
        pool = seeds(kind, True)[len(pool) :]
    c = RandomChooser(seed * 1_000_003 + KINDS[kind] * 100_000_007 + i)
    return mutate(c, pool[i % len(pool)], extreme=True)


def _timed_check(path, data, time_limit):
    def alarm(*_):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    t0 = time.perf_counter()
    try:
        with PeakRSS() as mem:
            try:
                out = check(path, data)
            except _Timeout:
                out = Outcome("failure", "timeout", f"no answer after {time_limit} s", time.perf_counter() - t0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return out, mem.growth_bytes


def _nested(counts) -> dict:
    out = {}
    for (crc, status), v in sorted(counts.items()):
        out.setdefault(crc, {})[status] = v
    return out


def _legit(path, bn, repeats=3) -> dict:
    out = {}
    for s in seeds(None, bn):
        runs = [_timed_check(path, s.file, 600) for _ in range(repeats)]
        assert all(o.status == "decoded" for o, _ in runs), (s.name, runs[0][0])
        out[s.name] = {"seconds": min(o.seconds for o, _ in runs), "rss_growth_bytes": min(m for _, m in runs),
                       "file_bytes": len(s.file)}
    return out


def _fuzz_kind(kind: str, path: Path, n: int, seed: int, bn: bool, time_limit: float, minimal: bool,
               progress: bool, legit: dict) -> dict:
    counts, by_type = collections.Counter(), collections.Counter()
    classes = {"failure": collections.Counter(), "catch_all": collections.Counter()}
    examples, firsts = {}, {}
    worst_t, worst_m, worst_r = (0.0, None), (0, None), (0.0, None)
    t0 = time.perf_counter()
    for i in range(n):
        m = mutant(kind, i, seed, bn)
        for fix in (True, False):
            out, mem = _timed_check(path, m.file(fix), time_limit)
            crc = "crc_fixed" if fix else "crc_kept"
            counts[(crc, out.status)] += 1
            what = {"case": i, "crc_fixed": fix, "mutant": m.describe(), "outcome": out.status,
                    "error": out.key or out.message[:120]}
            if out.key is not None:
                if out.status == "failure":
                    by_type[out.error] += 1
                else:
                    counts[(crc, f"rejected by a catch-all around {out.wrapped}")] += 1
                classes["failure" if out.status == "failure" else "catch_all"][out.key] += 1
                if out.key not in examples:
                    examples[out.key], firsts[out.key] = what, (m, fix)
            if out.seconds > worst_t[0]:
                worst_t = (out.seconds, what)
            if out.seconds / legit[m.seed.name]["seconds"] > worst_r[0]:
                worst_r = (out.seconds / legit[m.seed.name]["seconds"], what)
            if mem > worst_m[0]:
                worst_m = (mem, what)
        if progress and (i + 1) % 500 == 0:
            print(f"  fuzz {kind}: {i + 1}/{n} cases, {_nested(counts)}", flush=True)
    for key, (m, fix) in firsts.items() if minimal else ():
        data, small = minimise(path, m, fix, key, lambda p, d: _timed_check(p, d, time_limit)[0])
        examples[key]["minimal"] = {"recipe": small.describe(), "bytes": len(data),
                                    "hex": data.hex() if len(data) <= 4096 else None}
    out = {"outcomes": _nested(counts), "failures_by_type": dict(by_type.most_common())}
    for name, table in classes.items():
        out[f"{name}_classes"] = [{"class": k, "count": v, "example": examples[k]} for k, v in table.most_common()]
    out.update(max_decode_seconds=worst_t[0], slowest=worst_t[1], max_rss_growth_bytes=worst_m[0],
               hungriest=worst_m[1], max_seconds_over_seed=worst_r[0], slowest_relative_to_its_seed=worst_r[1],
               wall_seconds=time.perf_counter() - t0)
    return out


def bench_fuzz(n: int = 3000, seed: int = 0, bn: bool = True, time_limit: float = 60.0,
               memory_limit: int = 8 << 30, kinds=tuple(KINDS), minimal: bool = True, progress: bool = True) -> dict:
    """n mutants per kind (module docstring); the result's per-kind entries as described there."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    result = {"cases_per_kind": n, "files_per_case": 2, "seed": seed, "time_limit_s": time_limit,
              "address_space_cap_bytes": memory_limit}
    try:
        with tempfile.TemporaryDirectory() as tmp, address_space_limit(memory_limit), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a mutant's zero-width layer: "Initializing zero-element tensors"
            result["legit"] = _legit(Path(tmp) / "legit.bin", bn)
            for kind in kinds:
                result[kind] = _fuzz_kind(kind, Path(tmp) / get_codec(kind).filename, n, seed, bn, time_limit,
                                          minimal, progress, result["legit"])
    finally:
        torch.set_num_threads(threads)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="decoder fuzzing: counts, time and memory per container kind")
    ap.add_argument("--cases", type=int, default=3000, help="mutants per container kind")
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    cli = ap.parse_args()
    found = bench_fuzz(cli.cases)
    text = json.dumps(found, indent=1, default=str)
    cli.out.write_text(text) if cli.out else print(text)
