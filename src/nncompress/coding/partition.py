"""Space-partitioned PFR: the Poisson functional representation searched bin by bin, after He,
Flamich & Hernández-Lobato (NeurIPS 2024, "Accelerating relative entropy coding with space
partitioning"), for a diagonal Gaussian block q = N(mu, sigma^2) under p = N(0, rho^2), sigma < rho.

The partition: dimension i is cut into J_i = 2^b_i intervals of equal prior mass (interval j holds
the prior quantiles j / J_i .. (j + 1) / J_i), B = sum b_i partition bits in all (`bits_per_dim`
spreads them evenly, or `allocation` takes each b_i), J = 2^B bins, each of prior mass 1 / J.
Every bin c has its own unit-rate Poisson process of points drawn from p restricted to c, shared
by encoder and decoder through the portable generator (`core.generator`, stream STREAM_PARTITION,
key (block, c)):

    G_c,n = X_0 + ... + X_n,  X_t = -ln u(word(K_c, 2t))              arrival n of bin c
    x_c,n,i = rho Phi^-1((j_i + v_i) / J_i),  v_i = u(word(K_c, 2 (n D + i) + 1))   its point

Superposed, the J processes are one Poisson process of rate J with points from p, so the index
that minimises G / (dq/dp)(x) over all of them, i.e. maximises

    S_c,n = L(x_c,n) - ln G_c,n,    L = ln q/p    (float64, the ratio's constant ln J dropped)

is the PFR index of that process (Li & El Gamal 2018): its point is an exact sample of q. It is sent
as (c, n): c in B bits, n in an exp-Golomb code. Since n counts arrivals in one bin of rate 1 of J,
B + log2(n + 1) is about log2 of PFR's index K, so the code length keeps PFR's
E[log2 K] <= KL + 1 + log2(e) / e (measured in `bench.rec_coders`, row `sppfr`).

What the partition buys is the search: bin c's points cannot score more than U_c - ln G, U_c =
sup over c of L (a concave quadratic per dimension, so the sum of each interval's maximum), and
the generator bounds ln of a first arrival: G_c,0 >= -ln(1 - 2^-25), so -ln G_c,0 <= 17.33. The
encoder visits bins in decreasing U_c (best-first over the grid of per-dimension rankings), stops
a bin once U_c - ln G_c,n falls below the best score, and stops the search once U_c + 17.33 does:
only the few bins near q are searched, about 2^(KL - B) points each, where PFR needs ~2^D_inf(q||p)
points in all. The index is the same as an exhaustive search's (ties in float64 aside).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import torch

from nncompress.core import generator as G

# -ln of the smallest first arrival the generator can give: u <= 1 - 2^-25, G_0 = -ln u >= 2^-25 (margin)
NEG_LOG_FIRST_MAX = 25 * math.log(2) + 1e-6
MARGIN = 1e-9  # float64 rounding of L against its interval bound U_c
MAX_BITS = 60
MAX_DIM_BITS = 29  # 29 + 24 bits of j + v: float64's 53


@dataclass
class PartitionedResult:
    bin: int  # c, B bits
    arrival: int  # n, the point's rank in its bin's process
    log_ratio: float  # L of the chosen point (ln q/p, nats)
    searched: int  # points scored, all bins together
    bins: int  # bins visited


def bits_per_dim(dim: int, total: int) -> list:
    """B partition bits over `dim` dimensions, as evenly as they go (the first dimensions take the rest);
    at most MAX_DIM_BITS a dimension, so that a point's quantile j + v (v a 24-bit uniform) is exact
    in float64."""
    if not 0 <= total <= MAX_BITS or dim < 1:
        raise ValueError(f"partition bits must be in 0..{MAX_BITS} over >= 1 dimension, got {total} over {dim}")
    if -(-total // dim) > MAX_DIM_BITS:
        raise ValueError(f"{total} partition bits over {dim} dimension(s) exceed {MAX_DIM_BITS} a dimension")
    return [total // dim + (1 if i < total % dim else 0) for i in range(dim)]


def _key(seed: int, block: int, c: int) -> int:
    return G.derive_key(seed, G.STREAM_PARTITION, block, c & G.MASK32, c >> 32)


def _split(c: int, bits: list) -> list:
    """Bin index -> per-dimension interval indices (dimension 0 in the low bits)."""
    out = []
    for b in bits:
        out.append(c & ((1 << b) - 1))
        c >>= b
    return out


def _join(js, bits: list) -> int:
    c, shift = 0, 0
    for j, b in zip(js, bits):
        c |= int(j) << shift
        shift += b
    return c


def _quantile(j: torch.Tensor, v: torch.Tensor, b: int) -> torch.Tensor:
    """Phi^-1((j + v) / 2^b), float64, from the nearer tail so that no precision is lost near 1."""
    n = float(1 << b)
    upper = (j + v) > n / 2
    low = torch.where(upper, (n - j) - v, j + v) / n  # exact: j, v and 2^b fit float64's 53 bits
    return torch.where(upper, -1.0, 1.0) * torch.special.ndtri(low)


def points(seed: int, block: int, c: int, n0: int, m: int, rho: torch.Tensor, bits: list) -> torch.Tensor:
    """The points of arrivals n0 .. n0+m-1 of bin c: [m, D] float64 (what a decoder rebuilds)."""
    dim = len(bits)
    key = _key(seed, block, c)
    counter = (torch.arange(n0, n0 + m, dtype=torch.int64)[:, None] * dim + torch.arange(dim)) * 2 + 1
    v = G.to_uniform(G.uint32(key, counter), torch.float64)
    js = torch.tensor(_split(c, bits), dtype=torch.float64)
    cols = [_quantile(js[i], v[:, i], b) for i, b in enumerate(bits)]
    return torch.stack(cols, 1) * rho.to(torch.float64)


def _arrival_increments(seed: int, block: int, c: int, n0: int, m: int) -> torch.Tensor:
    key = _key(seed, block, c)
    return -torch.log(G.to_uniform(G.uint32(key, torch.arange(n0, n0 + m, dtype=torch.int64) * 2), torch.float64))


def log_ratio(x: torch.Tensor, mu, sigma, rho) -> torch.Tensor:
    """L = ln q/p at points x [m, D], float64."""
    mu, sigma, rho = (t.to(torch.float64) for t in (mu, sigma, rho))
    per = torch.log(rho / sigma) - (x - mu) ** 2 / (2 * sigma * sigma) + x * x / (2 * rho * rho)
    return per.sum(-1)


class _Ranking:
    """One dimension's intervals in decreasing order of their bound max L_i, built lazily outward
    from the interval holding L_i's peak (L_i is concave, so each side decreases away from it)."""

    def __init__(self, mu: float, sigma: float, rho: float, b: int):
        self.mu, self.sigma, self.rho, self.n = mu, sigma, rho, 1 << b
        self.peak = mu * rho * rho / (rho * rho - sigma * sigma)
        p = 0.5 * math.erfc(-self.peak / (rho * math.sqrt(2)))
        top = min(self.n - 1, max(0, int(p * self.n)))
        # erfc and the edges' ndtri may round the peak into a neighbour: move to the true maximum, on
        # which the outward order (and so the search's stopping rule) rests
        while top + 1 < self.n and self._bound(top + 1) > self._bound(top):
            top += 1
        while top > 0 and self._bound(top - 1) > self._bound(top):
            top -= 1
        self.order = [(self._bound(top), top)]
        self.left, self.right = top - 1, top + 1

    def _edge(self, q: int) -> float:
        if q <= 0:
            return -math.inf
        if q >= self.n:
            return math.inf
        return float(_quantile(torch.tensor(float(q), dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64),
                               int(math.log2(self.n)))) * self.rho

    def _bound(self, j: int) -> float:
        x = min(max(self.peak, self._edge(j)), self._edge(j + 1))
        s2, r2 = self.sigma ** 2, self.rho ** 2
        return math.log(self.rho / self.sigma) - (x - self.mu) ** 2 / (2 * s2) + x * x / (2 * r2)

    def __getitem__(self, rank: int):
        while len(self.order) <= rank:
            if self.left < 0 and self.right >= self.n:
                raise IndexError(rank)
            lb = self._bound(self.left) if self.left >= 0 else -math.inf
            rb = self._bound(self.right) if self.right < self.n else -math.inf
            if lb >= rb:
                self.order.append((lb, self.left))
                self.left -= 1
            else:
                self.order.append((rb, self.right))
                self.right += 1
        return self.order[rank]

    def __len__(self):
        return self.n


def allocation(dim: int, partition_bits) -> list:
    """Per-dimension partition bits: `bits_per_dim` of a total, or a given list (checked)."""
    if isinstance(partition_bits, int):
        return bits_per_dim(dim, partition_bits)
    bits = [int(b) for b in partition_bits]
    if len(bits) != dim or not all(0 <= b <= MAX_DIM_BITS for b in bits) or sum(bits) > MAX_BITS:
        raise ValueError(f"an allocation needs {dim} values in 0..{MAX_DIM_BITS} summing to at most {MAX_BITS}, "
                         f"got {bits}")
    return bits


def search_block(seed: int, block: int, mu, sigma, rho, partition_bits, chunk: int = 256,
                 max_points: int = 1 << 30) -> PartitionedResult:
    """(c, n) of the block's PFR point (module docstring). mu, sigma, rho: 1-D tensors, sigma < rho;
    partition_bits: B, spread by `bits_per_dim`, or each dimension's b_i."""
    mu, sigma, rho = (torch.as_tensor(t, dtype=torch.float64).flatten() for t in (mu, sigma, rho))
    if not len(mu) == len(sigma) == len(rho):
        raise ValueError(f"mu, sigma and rho must have one value a dimension, got {len(mu)}, {len(sigma)}, {len(rho)}")
    if not bool(torch.all(sigma < rho)) or not bool(torch.all(sigma > 0)):
        raise ValueError("space-partitioned PFR needs 0 < sigma < rho in every dimension (L's peak is then finite)")
    bits = allocation(len(mu), partition_bits)
    ranks = [_Ranking(float(m), float(s), float(r), b) for m, s, r, b in zip(mu, sigma, rho, bits)]
    start = tuple(0 for _ in bits)
    heap, seen = [(-sum(r[0][0] for r in ranks), start)], {start}
    best, searched, visited = (-math.inf, 0, 0, 0.0), 0, 0
    while heap:
        neg_u, rk = heapq.heappop(heap)
        bound = -neg_u + MARGIN
        if bound + NEG_LOG_FIRST_MAX <= best[0]:
            break  # every bin left has U_c <= this one's
        for i in range(len(bits)):
            nxt = rk[:i] + (rk[i] + 1,) + rk[i + 1:]
            if nxt[i] < len(ranks[i]) and nxt not in seen:
                seen.add(nxt)
                heapq.heappush(heap, (-sum(ranks[d][nxt[d]][0] for d in range(len(bits))), nxt))
        c = _join([ranks[i][rk[i]][1] for i in range(len(bits))], bits)
        visited += 1
        n0, total, m = 0, 0.0, chunk
        while n0 == 0 or bound - math.log(total) > best[0]:
            g = total + torch.cumsum(_arrival_increments(seed, block, c, n0, m), 0)
            s = log_ratio(points(seed, block, c, n0, m, rho, bits), mu, sigma, rho)
            score = s - torch.log(g)
            k = int(torch.argmax(score))
            if float(score[k]) > best[0]:
                best = (float(score[k]), c, n0 + k, float(s[k]))
            searched += m
            n0, total = n0 + m, float(g[-1])
            m = min(2 * m, 1 << 16)
            if searched > max_points:
                raise RuntimeError(f"space-partitioned PFR searched over {max_points} points: too few partition bits")
    return PartitionedResult(best[1], best[2], best[3], searched, visited)
