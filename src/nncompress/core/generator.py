"""Portable counter-based random numbers shared by encoder and decoder.

Every value is a pure function of (key, counter), computed with 32-bit integer arithmetic held
in int64 tensors. Multipliers are below 2**31, so no product ever exceeds 2**63: no overflow,
no platform-dependent wrap, identical bits on any device and for any chunking of the counters.

    mix32(x)   = two rounds of  x ^= x >> 16;  x = (x * 0x045D9F3B) mod 2**32;  then x ^= x >> 16
    key(s, i)  = mix32(mix32(s mod 2**32) ^ mix32(i + 0x9E3779B9))        (a stream from a seed)
    word(K, c) = mix32(mix32(c) ^ K)                  one 32-bit word per counter c under key K
    for candidate k, pair p of a block with key K:
        h1 = mix32((word(K, k) + p * 0x9E3779B9) mod 2**32),   h2 = mix32(h1 ^ 0x5BD1E995)
    u = ((h >> 8) + 0.5) / 2**24                     24-bit uniform in (0, 1), exact in float32
    Box-Muller: dims 2p and 2p+1 are r*cos(2*pi*u2) and r*sin(2*pi*u2), r = sqrt(-2 ln u1).

The search may evaluate normals in float32 on any device; the values a decoder rebuilds come
from `canonical_normals` (float64 on the CPU, rounded once to float32).
"""
from __future__ import annotations

import math

import torch

MASK32 = 0xFFFFFFFF
_MUL = 0x045D9F3B
_GOLDEN = 0x9E3779B9
_SALT = 0x5BD1E995

# Stream identifiers: one seed drives independent streams for each use.
STREAM_HASH = 1
STREAM_PERMUTATION = 2
STREAM_CANDIDATES = 3
STREAM_SELECTION = 4
STREAM_PARTITION = 5  # coding.partition: each bin's arrivals and points


def mix32(x):
    """Integer mixer; works on Python ints and on int64 tensors holding values < 2**32."""
    x = x ^ (x >> 16)
    x = (x * _MUL) & MASK32
    x = x ^ (x >> 16)
    x = (x * _MUL) & MASK32
    return x ^ (x >> 16)


def derive_key(seed: int, *path: int) -> int:
    """Key of the stream `path` (e.g. (STREAM_CANDIDATES, block)) under `seed`."""
    key = mix32(int(seed) & MASK32)
    for part in path:
        key = mix32(key ^ mix32((int(part) + _GOLDEN) & MASK32))
    return key


def uint32(key: int, counters: torch.Tensor) -> torch.Tensor:
    """One 32-bit word per counter (int64 tensor of values < 2**32)."""
    return mix32(mix32(counters) ^ key)


def to_uniform(words: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """24-bit uniforms in the open interval (0, 1)."""
    return ((words >> 8).to(dtype) + 0.5) * 2.0**-24


def _pair_words(key: int, k_start: int, k_count: int, dim: int, device):
    k = torch.arange(k_start, k_start + k_count, dtype=torch.int64, device=device)
    hk = uint32(key, k)
    pairs = torch.arange((dim + 1) // 2, dtype=torch.int64, device=device)
    h1 = mix32((hk[:, None] + ((pairs * _GOLDEN) & MASK32)) & MASK32)
    h2 = mix32(h1 ^ _SALT)
    return h1, h2


def normals(key: int, k_start: int, k_count: int, dim: int, device="cpu", dtype=torch.float32):
    """Standard normals for candidates k_start .. k_start+k_count-1: shape [k_count, dim]."""
    h1, h2 = _pair_words(key, k_start, k_count, dim, device)
    radius = torch.sqrt(-2.0 * torch.log(to_uniform(h1, dtype)))
    angle = (2.0 * math.pi) * to_uniform(h2, dtype)
    out = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
    return out.reshape(k_count, -1)[:, :dim]


def canonical_normals(key: int, k: int, dim: int) -> torch.Tensor:
    """The normals of candidate k exactly as the decoder rebuilds them (float32, CPU)."""
    return normals(key, k, 1, dim, device="cpu", dtype=torch.float64)[0].to(torch.float32)


def canonical_normals_rows(keys: torch.Tensor, ks: torch.Tensor, dim: int) -> torch.Tensor:
    """Row i = canonical_normals(keys[i], ks[i], dim), bit for bit: [len(keys), dim] float32.

    Integer hashing, uniforms, products and square roots (exact or correctly rounded in IEEE
    arithmetic) run on all rows at once. log, cos and sin are not correctly rounded, and a vector
    math kernel may treat a tensor's tail differently from its body, so they run row by row on
    rows of exactly the single-candidate length: a decoder's values never depend on how many
    rows it decodes together."""
    pairs = torch.arange((dim + 1) // 2, dtype=torch.int64)
    hk = mix32(mix32(ks.to(torch.int64)) ^ keys.to(torch.int64))
    h1 = mix32((hk[:, None] + ((pairs * _GOLDEN) & MASK32)) & MASK32)
    u1 = to_uniform(h1, torch.float64)
    angle = (2.0 * math.pi) * to_uniform(mix32(h1 ^ _SALT), torch.float64)
    log_u, cos, sin = torch.empty_like(u1), torch.empty_like(u1), torch.empty_like(u1)
    for i in range(len(keys)):
        torch.log(u1[i], out=log_u[i])
        torch.cos(angle[i], out=cos[i])
        torch.sin(angle[i], out=sin[i])
    radius = torch.sqrt(-2.0 * log_u)
    out = torch.stack([radius * cos, radius * sin], dim=-1)
    return out.reshape(len(keys), -1)[:, :dim].to(torch.float32)


def derive_keys(seed: int, *path: int, last: torch.Tensor) -> torch.Tensor:
    """derive_key(seed, *path, j) for every j in the int64 tensor `last`."""
    return mix32(derive_key(seed, *path) ^ mix32((last + _GOLDEN) & MASK32))


def gumbels(key: int, k_start: int, k_count: int, device="cpu", dtype=torch.float32):
    """Standard Gumbel noise indexed by candidate, independent of chunking."""
    k = torch.arange(k_start, k_start + k_count, dtype=torch.int64, device=device)
    return -torch.log(-torch.log(to_uniform(uint32(key, k), dtype)))


def permutation(seed: int, n: int, stream: int = STREAM_PERMUTATION) -> torch.Tensor:
    """A portable random permutation of range(n): a stable sort of per-index random words."""
    key = derive_key(seed, stream)
    words = uint32(key, torch.arange(n, dtype=torch.int64))
    # Ties between equal words are broken by index (stable sort), so the result is unique.
    return torch.sort(words, stable=True).indices
