"""The candidate search of minimal random coding: a fast bounded pass, then exact rescoring.

The selection law (what defines the index a file holds; paper 000, sec. 3, after Havasi et al.
2019, Algorithm 1). For candidate k of a block with key K (`mrc.candidate_key`), selection key
K' (`mrc.selection_key`) and d variables, all in float64 from the float32 mu, sigma, rho:

    z_k  = canonical_normals(K, k, d)                    the float32 values a decoder rebuilds
    L_k  = c + sum_i (a_i z_ki + b_i) z_ki              log q/p of w_k = rho z_k, added i = 0 .. d-1
           a = 1/2 - rho^2/(2 sigma^2),  b = rho mu / sigma^2,  c = sum log(rho/sigma) - mu^2/(2 sigma^2)
    S_k  = L_k + g_k,  g_k = -log(-log u_k),  u_k = to_uniform(uint32(K', k))    selection "sample"
    S_k  = L_k                                                                    selection "argmax"
    index = the smallest k with S_k = max_j S_j          (Gumbel-max: P(k) is proportional to q/p)

Pass 1 evaluates every candidate approximately, in float32, with whatever kernel is fastest on
the device (`coding.scoring`: eager, or one fused compiled kernel), together with a bound

    E_k = EPS(d) * (W_k + |c| + |g_k| + 1),   W_k = sum_i |a_i| y_ki^2 + |b_i| y_ki,   y = 1 + |z~|
    EPS(d) = 2 * (2 ETA + (d + 8) 2^-24)

on |S~_k - S_k|: ETA bounds the float32 normals' error, |z~ - z| <= ETA (1 + |z|) (measured at
2^-19 on the CPU, 2^-16 allowed for any device), and (d + 8) 2^-24 the float32 rounding of the
sums; the factor 2 is margin. It keeps every k with S~_k + E_k >= max_j (S~_j - E_j), a set that
always holds the maximiser of S and typically one or two candidates. Pass 2 computes S exactly
on the kept candidates (CPU, float64, a fixed order of IEEE operations, logs one candidate at a
time). The index is thus a function of the canonical values alone: any device, any kernel and
any chunking select the same one.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass

import torch

from nncompress.coding import scoring
from nncompress.core import generator as G

ETA = 2.0**-16  # |z~ - z| <= ETA (1 + |z|) for the float32 normals of any kernel (measured on the CPU: 2^-19)
SELECTIONS = ("sample", "argmax")


def eps(dim: int) -> float:
    """EPS(d) of the bound E_k (module docstring)."""
    return 2.0 * (2.0 * ETA + (dim + 8) * 2.0**-24)


@dataclass
class SearchResult:
    index: int
    log_ratio: float  # L of the chosen candidate (log q/p, nats), exact
    rescored: int = 1  # candidates that pass 1 kept for exact rescoring


@dataclass
class Coefficients:
    """The per-variable log-ratio coefficients of one block, in float64 (exact pass) and float32
    (pass 1), with the absolute values the bound needs."""

    a: torch.Tensor
    b: torch.Tensor
    c: float

    @classmethod
    def of(cls, mu, sigma, rho) -> Coefficients:
        mu, sigma, rho = (t.detach().to("cpu", torch.float32).double() for t in (mu, sigma, rho))
        a = 0.5 - rho**2 / (2 * sigma**2)
        b = rho * mu / sigma**2
        c = float(torch.sum(torch.log(rho / sigma) - mu**2 / (2 * sigma**2)))
        return cls(a, b, c)


def exact_scores(ckey: int, skey: int, ks: torch.Tensor, coef: Coefficients, sample: bool):
    """Pass 2: (S, L) of the candidates `ks` (int64, CPU), float64, exactly as the docstring defines
    them. Each value depends on its own candidate only, never on how many are rescored together."""
    z = G.canonical_normals_rows(torch.full_like(ks, ckey), ks, len(coef.a)).double()
    terms = (coef.a * z + coef.b) * z
    lr = torch.full((len(ks),), coef.c, dtype=torch.float64)
    for i in range(terms.shape[1]):  # ((c + t_0) + t_1) + ...: a fixed order of IEEE additions
        lr = lr + terms[:, i]
    if not sample:
        return lr, lr
    u = G.to_uniform(G.uint32(skey, ks), torch.float64).tolist()
    g = torch.tensor([-math.log(-math.log(v)) for v in u], dtype=torch.float64)
    return lr + g, lr


def candidate_key(seed: int, block: int) -> int:
    return G.derive_key(seed, G.STREAM_CANDIDATES, block)


def selection_key(seed: int, block: int) -> int:
    return G.derive_key(seed, G.STREAM_SELECTION, block)


def _checked(kernel: scoring.FusedPass1, args: tuple):
    """The fused kernel's first chunk, compared once with the eager pass 1 (hash words and bound):
    each S~ must lie within both bounds of the other. On any failure the eager pass takes over."""
    try:
        out = kernel(*args)
    except Exception as exc:  # noqa: BLE001 - compiling happens at the first call; any failure: eager
        kernel.fail(f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}")
        return scoring.eager_pass1(*args)
    ref = scoring.eager_pass1(*args)
    if not bool(torch.all((out[0] - ref[0]).abs() <= out[1] + ref[1])):
        kernel.fail("its scores disagree with the eager pass beyond the bound")
        return ref
    kernel.checked = True
    return out


def pass1(kernel, args: tuple):
    """Pass 1 of one chunk, (S~, E, S~ + E, max(S~ - E)): through the compiled `kernel` when there
    is one that works (checked against the eager pass on its first chunk), else the eager pass.
    args: those of `scoring.eager_pass1`."""
    if kernel is None or not kernel.ok:
        return scoring.eager_pass1(*args)
    if kernel.checked:
        return kernel(*args)
    return _checked(kernel, args)


_WARMING: dict = {}  # the shape of a kernel -> the background process building it (prewarm_fused)


def _kernel_key(device, dim: int, n_candidates: int, chunk: int, selection: str) -> tuple:
    return str(torch.device(device)), int(dim), int(n_candidates), int(chunk), str(selection)


def prewarm_fused(device, dim: int, n_candidates: int, chunk: int = 1 << 16, selection: str = "sample") -> None:
    """Start `prepare_fused` for this shape in a background process at low priority: it fills
    inductor's on-disk cache while the network trains (a cold build takes about a minute on two
    cores), and the first `prepare_fused` of the same shape here waits for it, then loads the kernel
    from that cache in seconds. Best effort: if the process fails, prepare_fused builds as before."""
    key = _kernel_key(device, dim, n_candidates, chunk, selection)
    if key in _WARMING:
        return
    code = (f"from nncompress.coding.search import prepare_fused; "
            f"prepare_fused({key[0]!r}, {key[1]}, {key[2]}, {key[3]}, {key[4]!r})")
    try:
        _WARMING[key] = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         preexec_fn=lambda: os.nice(10))
    except OSError:
        pass


@torch.no_grad()
def prepare_fused(device, dim: int, n_candidates: int, chunk: int = 1 << 16, selection: str = "sample") -> bool:
    """Compile and check pass 1's kernel for blocks of `dim` variables before the first block, so
    that the one-off build (seconds warm, minutes on a cold inductor cache) is not charged to a
    block; True if the fused pass is ready, False if the eager pass takes over. Any coefficients
    serve: the kernel depends on the shapes alone."""
    warming = _WARMING.pop(_kernel_key(device, dim, n_candidates, chunk, selection), None)
    if warming is not None:
        warming.wait()
    m = min(chunk, n_candidates)
    sample = selection == "sample"
    coef = Coefficients(torch.full((dim,), 0.25, dtype=torch.float64), torch.zeros(dim, dtype=torch.float64), 0.0)
    packed = scoring.pack(coef.a, coef.b, device, dim)
    kernel = scoring.fused_pass1(device, packed.shape[1], m, sample)
    if kernel.ok and not kernel.checked:
        _checked(kernel, (candidate_key(0, 0), selection_key(0, 0), 0, m, packed, coef.c, eps(dim), sample))
    return kernel.ok


@torch.no_grad()
def search_block(seed: int, block: int, mu, sigma, rho, n_candidates: int, chunk: int = 1 << 16,
                 selection: str = "sample", fused: bool = False, pad_to: int = 0) -> SearchResult:
    """The index of one block (module docstring). mu, sigma, rho: 1-D tensors over the block's
    variables, on the device pass 1 runs on. `chunk` candidates are evaluated at a time (memory,
    not results); `fused` runs pass 1 through the compiled kernel (`coding.scoring`), built for
    blocks of `pad_to` variables where that is more than this block's (a run's shorter last block
    then needs no second kernel)."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got '{selection}'")
    device, dim = mu.device, mu.numel()
    sample = selection == "sample"
    coef = Coefficients.of(mu, sigma, rho)
    packed = scoring.pack(coef.a, coef.b, device, pad_to if fused else 0)
    ckey, skey = candidate_key(seed, block), selection_key(seed, block)
    m_max = min(chunk, n_candidates)
    kernel = scoring.fused_pass1(device, packed.shape[1], m_max, sample) if fused else None
    best_lo, kept_k, kept_hi = -math.inf, [], []
    for k0 in range(0, n_candidates, m_max):
        args = (ckey, skey, k0, min(m_max, n_candidates - k0), packed, coef.c, eps(dim), sample)
        _, _, hi, lo = pass1(kernel, args)
        lo = float(lo)
        if math.isnan(lo):
            raise ValueError(f"block {block}: the log-ratio is not a number (mu, sigma or rho not finite)")
        best_lo = max(best_lo, lo)
        idx = torch.nonzero(hi >= best_lo).flatten()
        kept_k.append(idx.cpu() + k0)
        kept_hi.append(hi[idx].double().cpu())
    ks = torch.cat(kept_k)
    ks = ks[torch.cat(kept_hi) >= best_lo]
    score, lr = exact_scores(ckey, skey, ks, coef, sample)
    top = score.max()
    j = int(torch.nonzero(score == top).flatten()[0])  # ks ascend: the smallest index of the maximum
    return SearchResult(int(ks[j]), float(lr[j]), len(ks))

