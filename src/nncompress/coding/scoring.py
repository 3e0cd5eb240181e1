"""Pass 1 of the MRC search (`coding.search`): approximate scores and their bound, eager or fused.

Per candidate k of a block with keys K, K' and coefficients a, b, c (d variables, P pairs):

    h1_p = mix32(word(K, k) + p * 0x9E3779B9),  h2_p = mix32(h1_p ^ 0x5BD1E995)   (core.generator)
    z_2p, z_2p+1 = r cos(2 pi u2), r sin(2 pi u2),  r = sqrt(-2 log u1)          Box-Muller
    S~ = c + sum_i (a_i z_i^2 + b_i z_i)  [+ g~ = -log(-log u(word(K', k)))]    float32
    E  = EPS(d) (sum_i |a_i| (1 + |z_i|)^2 + |b_i| (1 + |z_i|) + |c| + |g~| + 1)

A uniform u = (j + 1/2) 2^-24 needs 25 bits, one more than float32 holds, so log u is taken as
log(fl(u)) + (u - fl(u)) / fl(u): the remainder u - fl(u) (0 or +-2^-25) is exact in float32,
and log u keeps a few ulps of relative error even as u -> 1, where r -> 0 (rounding u alone
would cost up to 2^-11.5 in r). The float32 normals are then within ETA (1 + |z|) of the
canonical ones (`search.ETA`).

The eager pass hashes in int64 with `core.generator` itself. The fused pass is the same
function compiled by torch.compile (C++ on the CPU, Triton on a GPU) into two kernels per
(device, pairs, chunk, selection), the candidates' words and then everything from them (`_fused`
says why two), hashing in int32 two's complement (`x >> 16 & 0xFFFF` is the
logical shift, products wrap mod 2^32), so the normals never reach memory. Inductor caches the
kernel on disk; its first chunk is checked against the eager pass (`search`), and on a failure
the eager pass takes over.
"""
from __future__ import annotations

import math
import warnings

import torch

from nncompress.core import generator as G

_KERNELS: dict = {}  # (device, pairs, m, sample) -> FusedPass1


def _s32(v: int) -> int:
    """A 32-bit word as the int32 holding the same bits."""
    v &= G.MASK32
    return v - (1 << 32) if v >= 1 << 31 else v


def _mix_i32(x: torch.Tensor) -> torch.Tensor:
    mul = _s32(G._MUL)
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * mul
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * mul
    return x ^ ((x >> 16) & 0xFFFF)


def _log_uniform(h: torch.Tensor) -> torch.Tensor:
    """log u of the 24-bit uniform of word h (any integer dtype), float32, few-ulp accurate."""
    j = ((h >> 8) & 0xFFFFFF).to(torch.float32)  # exact: j < 2^24
    hi = j + 0.5  # fl(j + 1/2): j or j + 1 when j >= 2^23 (ties to even)
    rem = (j - hi) + 0.5  # exact (Sterbenz): (j + 1/2) - fl(j + 1/2)
    return torch.log(hi * 2.0**-24) + rem / hi


def _uniform(h: torch.Tensor) -> torch.Tensor:
    return (((h >> 8) & 0xFFFFFF).to(torch.float32) + 0.5) * 2.0**-24


def _scores(h1, h2, hs, coef, c, bound, sample: bool):
    """(S~, E) [m] from the words h1, h2 [m, P] and hs [m]; coef: float32 [4, P, 2] (a, b, |a|, |b|
    over dims 2p, 2p+1, zero beyond d); c, bound: float32 0-d tensors."""
    radius = torch.sqrt(-2.0 * _log_uniform(h1))
    angle = (2.0 * math.pi) * _uniform(h2)
    z0, z1 = radius * torch.cos(angle), radius * torch.sin(angle)
    y0, y1 = z0.abs() + 1.0, z1.abs() + 1.0
    a, b, abs_a, abs_b = coef
    s = ((z0 * a[:, 0] + b[:, 0]) * z0 + (z1 * a[:, 1] + b[:, 1]) * z1).sum(1) + c
    w = ((y0 * abs_a[:, 0] + abs_b[:, 0]) * y0 + (y1 * abs_a[:, 1] + abs_b[:, 1]) * y1).sum(1) + (c.abs() + 1.0)
    if sample:
        g = -torch.log(-_log_uniform(hs))
        s = s + g
        w = w + g.abs()
    return s, w * bound


def pack(a, b, device, pad_to: int = 0) -> torch.Tensor:
    """Coefficients a, b [d] -> float32 [4, P, 2] (a, b, |a|, |b|), P = ceil(max(d, pad_to) / 2),
    zero beyond d: a zero coefficient adds nothing (the bound covers the sum's order), so one
    kernel serves shorter blocks."""
    dim = len(a)
    pairs = (max(dim, pad_to) + 1) // 2
    out = torch.zeros(4, 2 * pairs, dtype=torch.float32)
    out[:, :dim] = torch.stack([a, b, a.abs(), b.abs()]).to(torch.float32)
    return out.view(4, pairs, 2).to(device)


def eager_pass1(ckey: int, skey: int, k0: int, m: int, coef, c: float, bound: float, sample: bool):
    """Pass 1 of candidates k0 .. k0+m-1, hashing with core.generator (int64): (S~, E, S~ + E)
    float32 [m] and max(S~ - E) 0-d."""
    device, pairs = coef.device, coef.shape[1]
    k = torch.arange(k0, k0 + m, dtype=torch.int64, device=device)
    offsets = (torch.arange(pairs, dtype=torch.int64, device=device) * G._GOLDEN) & G.MASK32
    h1 = G.mix32((G.uint32(ckey, k)[:, None] + offsets) & G.MASK32)
    h2 = G.mix32(h1 ^ G._SALT)
    hs = G.uint32(skey, k) if sample else None
    scalar = dict(dtype=torch.float32, device=device)
    return _with_limits(*_scores(h1, h2, hs, coef, torch.tensor(c, **scalar), torch.tensor(bound, **scalar), sample))


def _with_limits(s, e):
    """(S~, E, S~ + E, max(S~ - E)): what the search keeps a candidate by, reduced in the kernel."""
    return s, e, s + e, (s - e).max()


def _words(k0, keys, m: int, sample: bool):
    """The fused pass's first kernel: the per-candidate words of candidates k0 .. k0+m-1 (int32 [m]),
    mix32(mix32(k) ^ K) for the normals and, when sampling, for the Gumbel noise."""
    k = k0 + torch.arange(m, dtype=torch.int32, device=k0.device)
    mixed = _mix_i32(k)
    return _mix_i32(mixed ^ keys[0]), (_mix_i32(mixed ^ keys[1]) if sample else None)


def _fused(word, hs, coef, c, bound, sample: bool):
    """The fused pass's second kernel: the pair hashes of the words, then _scores and
    _with_limits. Two kernels, not one: each mix32 reads its input three times, and inductor
    re-derives an inlined input at every read, so one kernel from k would be traced through
    8^4 copies of the hashing (minutes of compiling on 2 cores); the [m] words in memory cut that."""
    pairs = coef.shape[1]
    offsets = torch.tensor([_s32(p * G._GOLDEN) for p in range(pairs)], dtype=torch.int32, device=coef.device)
    h1 = _mix_i32(word[:, None] + offsets)
    h2 = _mix_i32(h1 ^ _s32(G._SALT))
    return _with_limits(*_scores(h1, h2, hs, coef, c, bound, sample))


# Inductor inlines a pointwise input at each of its reads unless the input's own function exceeds
# this many ops; at its default (30) the C++ code generator walks ~48,000 ops of the inlined hashing
# per kernel, 42 s of a cold build here. At 16 the build takes 13 s and the kernel runs as fast
# (0.111 against 0.105 s a block of 2^20 candidates, d = 30; the same indices). CPU only: the Triton
# build is not measured.
CPU_OPTIONS = {"realize_opcount_threshold": 16}


class FusedPass1:
    """The compiled pass 1 of one shape; `ok` turns False once compiling or its check failed."""

    def __init__(self, m: int, sample: bool, device="cpu"):
        self.m, self.sample, self.ok, self.checked = m, sample, True, False
        options = CPU_OPTIONS if torch.device(device).type == "cpu" else None
        try:
            self.words = torch.compile(_words, dynamic=False, fullgraph=True, options=options)
            self.fn = torch.compile(_fused, dynamic=False, fullgraph=True, options=options)
        except Exception as exc:  # noqa: BLE001 - any failure means: use the eager pass
            self.fail(f"{type(exc).__name__}: {exc}")

    def fail(self, why: str) -> None:
        warnings.warn(f"fused MRC search unavailable ({why}); using the eager pass", stacklevel=3)
        self.ok = False

    def __call__(self, ckey: int, skey: int, k0: int, m: int, coef, c: float, bound: float, sample: bool):
        """As eager_pass1, for candidates k0 .. k0+m-1 (m <= self.m: the kernel evaluates self.m)."""
        dev = coef.device
        keys = torch.tensor([_s32(ckey), _s32(skey)], dtype=torch.int32, device=dev)
        scalar = dict(dtype=torch.float32, device=dev)
        word, hs = self.words(torch.tensor(_s32(k0), dtype=torch.int32, device=dev), keys, self.m, self.sample)
        out = self.fn(word, hs, coef, torch.tensor(c, **scalar), torch.tensor(bound, **scalar), self.sample)
        return out if m == self.m else _with_limits(out[0][:m], out[1][:m])


def fused_pass1(device, pairs: int, m: int, sample: bool) -> FusedPass1:
    """The compiled pass 1 of this shape, built once per process."""
    sig = (str(torch.device(device)), pairs, m, sample)
    if sig not in _KERNELS:
        _KERNELS[sig] = FusedPass1(m, sample, device)
    return _KERNELS[sig]
