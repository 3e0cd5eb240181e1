"""The search of the ordered coders: ordered random coding (ORC) and the Poisson functional
representation (PFR), both with the candidates of minimal random coding.

A block with posterior q = N(mu, sigma^2) and coding distribution p = N(0, rho^2) has the
candidates of MRC, w_k = rho z_k, z_k = canonical_normals(K, k, d) (`search`: key K, log-ratio
L_k = log q/p(w_k) in float64 by the fixed order of operations defined there). Where MRC adds
i.i.d. Gumbel noise to L_k, the ordered coders add noise that decreases with k. With
X_i = -ln u_i, u_i = to_uniform(uint32(K', i)) (K' = `search.selection_key`, exact 24-bit
dyadic rationals) and N candidates:

    PFR  T_k = X_0 + X_1 + ... + X_k                   arrival k of a unit-rate Poisson process
    ORC  T_k = X_0 / N + X_1 / (N-1) + ... + X_k / (N-k)    the (k+1)-th smallest of N i.i.d.
                                                         Exp(1) (Renyi's representation)
    index = the smallest k < N maximising S_k = L_k - ln T_k      (ln T_k: the real logarithm)

PFR (Li & El Gamal 2018, "Strong functional representation lemma", Appendix: K = argmin_k
T_k / (dq/dp)(w_k)) draws w_K exactly from q when N is unbounded, with
E[log2 (K+1)] <= KL + e^-1 log2 e + 1 bits (their eq. for E[log K], K counted from 1), so a
variable-length code of the index costs about KL + log2 KL bits (`pfr`). ORC (Theis & Yosri 2022,
"Algorithms for the communication of samples", sec. 3.3) gives candidate k the (k+1)-th largest of
N Gumbels, -ln T_k: the same index law as MRC's for N = 1, PFR's as N grows (for k << N, T_k is
PFR's divided by N); its index keeps MRC's fixed length (`orc`), and what it changes is the
sample's distance to q at the same N (measured against MRC in `bench.rec_coders`).

Pass 1 scores every candidate as MRC's does (`search.pass1`: float32 L~ with its proven bound,
eager or one compiled kernel), and the noise in float64 on the CPU from a running sum, with the bound

    |ln T~_k - ln T_k| <= EN_k = 2 ((k + 2) 2^-53 + 2^-48) + 2^-51 |ln T~_k|

(positive terms summed in any order: relative error <= (k + 1) 2^-53 plus one for the carry
between chunks; log and division within 2^-48 relative; the factor 2 is margin). It keeps every k
with S~_k + E_k + EN_k >= max_j (S~_j - E_j - EN_j). Pass 2 takes L exactly (`search.exact_scores`)
and the noise as intervals; if they leave two candidates undecided (about once in 10^6 blocks),
ln T of those is computed with mpmath at 40 digits from the exact u_i, so the index is a function
of the canonical values alone: any device, kernel or chunking selects the same.

The search stops early once no later candidate can win: S_j <= L_max - ln T_j for every j, L_max
the largest L over the generator's range (|z| <= Z_MAX), and T_j grows with j. A PFR search that
stops before N has found PFR's exact index (`OrderedResult.searched` < N); one cut at N is the
truncated PFR of practice, whose sample is close to q when N >> exp(KL).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nncompress.coding import scoring
from nncompress.coding.search import Coefficients, candidate_key, eps, exact_scores, pass1, selection_key
from nncompress.core import generator as G

LAWS = ("orc", "pfr")
# Largest |z| the generator can produce: u1 >= 2^-25 gives r <= sqrt(50 ln 2) = 5.8871 (rounding: margin).
Z_MAX = 5.8875


@dataclass
class OrderedResult:
    index: int
    log_ratio: float  # L of the chosen candidate (log q/p, nats), exact
    rescored: int  # candidates pass 1 kept for exact rescoring
    searched: int  # candidates pass 1 scored: fewer than N when the search stopped early (exact PFR)
    resolved: bool = False  # pass 2 needed the mpmath noise


def _increments(skey: int, k0: int, m: int, n: int, law: str) -> torch.Tensor:
    """X_k (PFR) or X_k / (N - k) (ORC) for k = k0 .. k0+m-1, float64 on the CPU."""
    k = torch.arange(k0, k0 + m, dtype=torch.int64)
    inc = -torch.log(G.to_uniform(G.uint32(skey, k), torch.float64))
    return inc / (n - k).to(torch.float64) if law == "orc" else inc


def noise_bound(k: torch.Tensor, log_t: torch.Tensor) -> torch.Tensor:
    """EN_k of the module docstring."""
    return 2.0 * ((k.to(torch.float64) + 2.0) * 2.0**-53 + 2.0**-48) + 2.0**-51 * log_t.abs()


def exact_log_noise(skey: int, k: int, n: int, law: str, dps: int = 40):
    """ln T_k to `dps` digits (an mpmath number): every u_i is the exact rational (j + 1/2) / 2^24."""
    import mpmath

    with mpmath.workdps(dps):
        words = G.uint32(skey, torch.arange(k + 1, dtype=torch.int64)).tolist()
        total = mpmath.mpf(0)
        for i, h in enumerate(words):
            x = -mpmath.log(mpmath.mpf(2 * (h >> 8) + 1) / mpmath.mpf(2**25))
            total += x / (n - i) if law == "orc" else x
        return mpmath.log(total)


def max_log_ratio(coef: Coefficients) -> float:
    """An upper bound on L_k over every candidate the generator can produce (|z| <= Z_MAX per
    variable): c + sum_i max over |z| <= Z_MAX of a_i z^2 + b_i z, plus a rounding margin."""
    a, b = coef.a, coef.b
    ends = torch.maximum(a * Z_MAX**2 + b * Z_MAX, a * Z_MAX**2 - b * Z_MAX)
    vertex = torch.where(a < 0, -b / (2 * a).clamp(max=-1e-300), torch.full_like(a, math.inf))
    inner = torch.where(vertex.abs() <= Z_MAX, -b * b / (4 * a).clamp(max=-1e-300), torch.full_like(a, -math.inf))
    top = torch.maximum(ends, inner)
    total = coef.c + float(top.sum())
    return total + 1e-9 * (abs(coef.c) + float(top.abs().sum()) + 1.0)


@torch.no_grad()
def search_block(seed: int, block: int, mu, sigma, rho, n_candidates: int, law: str, chunk: int = 1 << 16,
                 fused: bool = False, pad_to: int = 0, stop: bool = True) -> OrderedResult:
    """The index of one block under `law` (module docstring), among n_candidates. mu, sigma, rho:
    1-D tensors over the block's variables, on the device pass 1 runs on. `chunk` candidates are
    scored at a time (memory, not results); `fused` runs pass 1 through the compiled kernel;
    `stop=False` scores all N even when the result is already certain (tests, timing)."""
    if law not in LAWS:
        raise ValueError(f"law must be one of {LAWS}, got '{law}'")
    if not 1 <= n_candidates <= 1 << 32:
        raise ValueError(f"n_candidates must be in 1..2^32, got {n_candidates}")
    device, dim = mu.device, mu.numel()
    coef = Coefficients.of(mu, sigma, rho)
    packed = scoring.pack(coef.a, coef.b, device, pad_to if fused else 0)
    ckey, skey = candidate_key(seed, block), selection_key(seed, block)
    m_max = min(chunk, n_candidates)
    kernel = scoring.fused_pass1(device, packed.shape[1], m_max, False) if fused else None
    l_max = max_log_ratio(coef) if stop else math.inf
    best_lo, carry, searched = -math.inf, 0.0, 0
    kept = []  # (k, hi, ln T~, EN) of the candidates kept so far
    for k0 in range(0, n_candidates, m_max):
        m = min(m_max, n_candidates - k0)
        s, e, _, _ = pass1(kernel, (ckey, skey, k0, m, packed, coef.c, eps(dim), False))
        s, e = s.double().cpu(), e.double().cpu()
        t = torch.cumsum(_increments(skey, k0, m, n_candidates, law), 0) + carry
        carry = float(t[-1])
        log_t = torch.log(t)
        ks = torch.arange(k0, k0 + m, dtype=torch.int64)
        en = noise_bound(ks, log_t)
        score = s - log_t
        bound = e + en
        lo = float((score - bound).max())
        if math.isnan(lo):
            raise ValueError(f"block {block}: the log-ratio is not a number (mu, sigma or rho not finite)")
        best_lo = max(best_lo, lo)
        hi = score + bound
        idx = torch.nonzero(hi >= best_lo).flatten()
        kept.append((ks[idx], hi[idx], log_t[idx], en[idx]))
        searched = k0 + m
        if l_max - (float(log_t[-1]) - float(en[-1])) < best_lo:
            break  # no later candidate can reach the best lower bound
    ks, hi, log_t, en = (torch.cat(parts) for parts in zip(*kept))
    keep = hi >= best_lo
    ks, log_t, en = ks[keep], log_t[keep], en[keep]
    _, lr = exact_scores(ckey, skey, ks, coef, False)
    s_lo, s_hi = lr - log_t - en, lr - log_t + en
    j = int(torch.argmax(s_lo))
    rivals = torch.nonzero(s_hi >= s_lo[j]).flatten()
    resolved = len(rivals) > 1
    if resolved:  # the float64 noise cannot order them: the real values decide (smallest k on a tie)
        import mpmath

        with mpmath.workdps(40):
            exact = [(mpmath.mpf(float(lr[i])) - exact_log_noise(skey, int(ks[i]), n_candidates, law), -int(ks[i]), i)
                     for i in rivals.tolist()]
            j = max(exact)[2]
    return OrderedResult(int(ks[j]), float(lr[j]), len(ks), searched, resolved)
