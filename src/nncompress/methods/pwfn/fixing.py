"""One PWFN fixing round: Algorithm 1 of the appendix of paper 002, and the public code's variant.

Notation: N weights pooled over all layers, means mu_i, sigmas sigma_i, D_prob as in distance.py,
C^omega the centre sets of centres.py with m = max|mu| over the free weights, p_t the schedule.

Algorithm 1 (variant="appendix", the default). Until ceil(N p_t) weights are fixed, repeat a pick:
  1. for omega = 1, 2, ..., 4 (restarting at 1 for every pick, as printed): assign each free weight
     to its nearest centre c*(i) in C^omega (under D_prob; sigma_i is per weight, so this is the
     nearest by value: a binary search on the midpoints of the sorted centres);
  2. k* = the centre with the most weights (see `count` below; ties go to the lowest centre);
  3. sort the free weights assigned to k* by D_prob and fix the longest prefix whose running mean
     distance stays below delta (never more than still needed); if it is empty, try the next omega;
  4. if no omega <= 4 fixes anything, delta <- 2 delta and go back to omega = 1.
  Fixed weights take their centre as mean, the spread of the group's means as sigma, and stay fixed.
  delta starts at delta0 (1) every round (the appendix does not say; the public code resets it);
  the highest omega used and the delta reached are reported. A weight exactly at a midpoint
  between two centres goes to the lower one. ceil(N p_t) is exact (schedule.fixed_target).

Readings of the printed algorithm (the appendix's pseudo-code is garbled in places):
- "Most weights". The print counts every weight whose nearest centre is c_k,
  n_k = sum_i I[c_k = c*(i)]; REFERENCE.md §3 and the issue say "the most weights within delta",
  i.e. n_k = #{i : c*(i) = c_k, D_prob(w_i, c_k) < delta}. They differ materially: with the printed
  count the most populous centre keeps winning and delta escalates instead of other centres being
  used. Default count="within_delta"; count="nearest" reproduces the print.
- Candidates. The print sorts all weights by their distance to c_k* yet assigns each fixed weight
  to its own c*(i); we sort only the weights whose nearest centre is c_k*, which makes the two
  agree. The running-mean loop of the print is off by one; we fix the longest prefix whose mean
  distance is < delta (the running mean is non-decreasing over a sorted prefix).
- delta doubling. The print doubles delta inside the omega loop; we double it only when no omega
  fixes anything ("double delta when nothing qualifies").
- Sigma of a fixed group. The print says "variance" of the group's means, the public code uses the
  standard deviation (np.std). We use the (population) standard deviation: sigma is a standard
  deviation everywhere else, and D_prob divides a distance in weight units by it.
- A group of one gets sigma 0 (D_prob floors it at 2^-20).

Public variant (variant="public", subiawaud/PWFN, REFERENCE.md §3). Every weight is re-clustered
from scratch (the incoming fixed mask is ignored: previously fixed weights compete again, sitting at
distance 0 of their centre, and the ones not re-picked become free). delta = delta0 (1) at the start
of every round, omega = 1. Per pick, over the free weights and the centres not yet used at this
escalation level: count per centre the weights with D_prob <= delta (a weight counts for every
centre in reach, not only its nearest), take the centre with the largest count (lowest on ties),
fix its in-reach weights in order of distance (at most what is still needed), and remove that
centre; when no centre has any weight in reach, escalate in turn omega -> 2, delta x2, omega -> 3,
delta x2, omega -> 4, delta x2, delta x2, ... and rebuild the centres (m over the free weights).
`zero_fix`: weights with |mu| < 2^-b are at distance 0 of centre 0 (the public code zeroes the
distances of the *middle* row of its centre array, which stops being 0 once a centre has been
removed; we apply it to 0). Membership D <= delta is tested as c in [mu - delta s, mu + delta s].

Speed: per omega a level holds each free weight's nearest centre and distance, and the free weights
grouped by centre (one stable integer sort; each group sorted by distance the first time it is
picked); counts are kept by bincount and decremented as weights get fixed; a group's fixed prefix
moves its head pointer, so later picks start where the last one stopped. A level is rebuilt (over
the still-free weights only) when m shrinks enough to change its centre set.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch

from nncompress.methods.pwfn.centres import MAX_OMEGA, centre_set, check_omega
from nncompress.methods.pwfn.distance import SIGMA_FLOOR
from nncompress.methods.pwfn.schedule import fixed_target

VARIANTS = ("appendix", "public")
MIN_CHUNK = 4096  # members scanned at once when a group's prefix is taken (doubles while it runs on)
COUNT_MODES = ("within_delta", "nearest")


@dataclass
class FixingReport:
    """What one round did."""
    variant: str
    target: int            # ceil(N p_t), the number fixed after the round
    fixed_before: int
    fixed_after: int
    picks: int             # centre groups fixed (Algorithm 1: passes of the outer loop)
    omega: int             # highest omega a pick used (appendix) / omega reached (public); 0: no pick
    delta: float           # delta reached at the end of the round
    centres: list[float] = field(default_factory=list)  # distinct centres picked this round

    def as_dict(self) -> dict:
        return asdict(self)


class FixingResult(NamedTuple):
    mu: torch.Tensor       # flat, input dtype: fixed entries hold their centre
    sigma: torch.Tensor    # flat, input dtype: fixed entries hold their group's spread
    fixed: torch.Tensor    # flat bool
    report: FixingReport


def _check_inputs(mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor | None, p: float,
                  delta0: float, delta_growth: float, max_omega: int) -> None:
    if mu.shape != sigma.shape or (fixed is not None and fixed.shape != mu.shape):
        raise ValueError(f"mu, sigma and fixed must have one shape, got {tuple(mu.shape)}, "
                         f"{tuple(sigma.shape)}, {None if fixed is None else tuple(fixed.shape)}")
    if not bool(torch.isfinite(mu).all()) or not bool(torch.isfinite(sigma).all()):
        raise ValueError("mu and sigma must be finite to be fixed")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"fraction to fix must lie in [0, 1], got {p}")
    if not (math.isfinite(delta0) and delta0 > 0):
        raise ValueError(f"delta0 must be finite and > 0, got {delta0}")
    if not (math.isfinite(delta_growth) and delta_growth > 1):
        raise ValueError(f"delta_growth must be finite and > 1, got {delta_growth}")
    check_omega(max_omega)


# --------------------------------------------------------------------------------------------
# Algorithm 1
# --------------------------------------------------------------------------------------------
class _Level:
    """Nearest-centre assignment of the free weights for one centre set C^omega."""

    def __init__(self, centres: torch.Tensor, mu: torch.Tensor, sigma_floor: torch.Tensor, live: torch.Tensor):
        self.centres = centres
        n_centres = centres.numel()
        midpoints = (centres[1:] + centres[:-1]) / 2
        mu_live = mu[live]
        nearest = torch.searchsorted(midpoints, mu_live)  # side=left: a midpoint tie goes to the lower centre
        self.assign = torch.full(mu.shape, -1, dtype=torch.int64)
        self.assign[live] = nearest
        self.dist = torch.full(mu.shape, math.inf, dtype=torch.float64)
        self.dist[live] = (centres[nearest] - mu_live).abs() / sigma_floor[live]
        grouped = torch.sort(nearest, stable=True).indices  # groups contiguous, positions ascending
        self.order = live[grouped]
        sizes = torch.bincount(nearest, minlength=n_centres)
        self.ends = torch.cumsum(sizes, 0)
        self.head = self.ends - sizes              # first not-yet-consumed slot of each group
        self.count_nearest = sizes.clone()
        self.group_sorted = torch.zeros(n_centres, dtype=torch.bool)
        self.within_delta: float | None = None
        self.count_within = torch.zeros(n_centres, dtype=torch.int64)

    def best_centre(self, delta: float, alive: torch.Tensor, count: str) -> int | None:
        if count == "nearest":
            counts = self.count_nearest
        else:
            if self.within_delta != delta:
                members = alive & (self.dist < delta)
                self.count_within = torch.bincount(self.assign[members], minlength=self.centres.numel())
                self.within_delta = delta
            counts = self.count_within
        k = int(torch.argmax(counts))  # first maximum: lowest centre on ties
        return k if int(counts[k]) > 0 else None

    def take_prefix(self, k: int, delta: float, need: int, alive: torch.Tensor) -> torch.Tensor:
        """Free members of group k, closest first, while their running mean distance < delta."""
        start, end = int(self.head[k]), int(self.ends[k])
        if not bool(self.group_sorted[k]):
            segment = self.order[start:end]
            self.order[start:end] = segment[torch.sort(self.dist[segment], stable=True).indices]
            self.group_sorted[k] = True
        expected = int(self.count_within[k]) if self.within_delta == delta else 0
        chunk = max(MIN_CHUNK, 2 * min(need, max(expected, 1)))
        taken: list[torch.Tensor] = []
        n_taken, total, pos = 0, 0.0, start
        while pos < end and n_taken < need:
            segment = self.order[pos:min(pos + chunk, end)]
            live_slots = alive[segment].nonzero().squeeze(1)
            live = segment[live_slots]
            n_ok = 0
            if live.numel():
                running = total + torch.cumsum(self.dist[live], 0)
                means = running / torch.arange(n_taken + 1, n_taken + live.numel() + 1, dtype=torch.float64)
                failing = (means >= delta).nonzero()
                n_ok = int(failing[0]) if failing.numel() else live.numel()
                n_ok = min(n_ok, need - n_taken)
                if n_ok:
                    taken.append(live[:n_ok])
                    total = float(running[n_ok - 1])
                    n_taken += n_ok
            if n_ok < live.numel():  # stopped inside this segment: head moves to the first untaken member
                self.head[k] = pos + int(live_slots[n_ok])
                break
            pos += segment.numel()
            self.head[k] = pos
            chunk *= 2
        return torch.cat(taken) if taken else torch.zeros(0, dtype=torch.int64)

    def remove(self, positions: torch.Tensor) -> None:
        n_centres = self.centres.numel()
        self.count_nearest -= torch.bincount(self.assign[positions], minlength=n_centres)
        if self.within_delta is not None:
            inside = positions[self.dist[positions] < self.within_delta]
            self.count_within -= torch.bincount(self.assign[inside], minlength=n_centres)


class _MaxTracker:
    """max |mu| over the alive weights, from a refillable top-k buffer (no full scan per pick)."""

    def __init__(self, magnitude: torch.Tensor, alive: torch.Tensor, buffer_size: int = 4096):
        self.magnitude, self.alive, self.buffer_size = magnitude, alive, buffer_size
        self._refill()

    def _refill(self) -> None:
        live = self.alive.nonzero().squeeze(1)
        k = min(self.buffer_size, live.numel())
        self.buffer = live[torch.topk(self.magnitude[live], k).indices] if k else live
        self.ptr = 0

    def current(self) -> float:
        while True:
            rest = self.buffer[self.ptr:]
            first_alive = self.alive[rest].nonzero()
            if first_alive.numel():
                self.ptr += int(first_alive[0])
                return float(self.magnitude[self.buffer[self.ptr]])
            self._refill()
            if self.buffer.numel() == 0:
                return 0.0


def algorithm1_round(mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor, p: float, *,
                     delta0: float = 1.0, delta_growth: float = 2.0, b: int = 7,
                     max_omega: int = MAX_OMEGA, count: str = "within_delta") -> FixingResult:
    """Fix free weights by Algorithm 1 until exactly ceil(N p) are fixed (fixed ones stay fixed)."""
    _check_inputs(mu, sigma, fixed, p, delta0, delta_growth, max_omega)
    if count not in COUNT_MODES:
        raise ValueError(f"count must be one of {COUNT_MODES}, got {count!r}")
    flat_fixed = fixed.detach().flatten().to(torch.bool)
    n_total = flat_fixed.numel()
    target, before = fixed_target(n_total, p), int(flat_fixed.sum())
    if before > target:
        raise ValueError(f"{before} weights are already fixed, more than the target ceil(N p) = {target}")
    out_mu = mu.detach().flatten().clone()
    out_sigma = sigma.detach().flatten().clone()
    out_fixed = flat_fixed.clone()
    report = FixingReport("appendix", target, before, before, 0, 0, float(delta0))
    need = target - before
    if need == 0:
        return FixingResult(out_mu, out_sigma, out_fixed, report)

    free_index = (~flat_fixed).nonzero().squeeze(1)
    free_mu = out_mu[free_index].to(torch.float64)
    free_sigma = out_sigma[free_index].to(torch.float64).clamp_min(SIGMA_FLOOR)
    alive = torch.ones(free_index.numel(), dtype=torch.bool)
    tracker = _MaxTracker(free_mu.abs(), alive)
    levels: dict[int, _Level] = {}
    delta, centres_used = float(delta0), set()

    def level_for(omega: int, m: float) -> _Level:
        centres = centre_set(m, omega, b)
        level = levels.get(omega)
        if level is None or not torch.equal(level.centres, centres):  # m shrank past a centre
            level = levels[omega] = _Level(centres, free_mu, free_sigma, alive.nonzero().squeeze(1))
        return level

    while need > 0:
        m = tracker.current()
        for omega in range(1, max_omega + 1):
            level = level_for(omega, m)
            k = level.best_centre(delta, alive, count)
            if k is None:
                continue
            positions = level.take_prefix(k, delta, need, alive)
            if positions.numel() == 0:
                continue
            centre = float(level.centres[k])
            chosen = free_index[positions]
            spread = float(free_mu[positions].std(unbiased=False)) if positions.numel() > 1 else 0.0
            out_mu[chosen] = centre
            out_sigma[chosen] = spread
            out_fixed[chosen] = True
            alive[positions] = False
            for other in levels.values():
                other.remove(positions)
            need -= positions.numel()
            report.picks += 1
            report.omega = max(report.omega, omega)
            centres_used.add(centre)
            break
        else:
            delta *= delta_growth  # nothing qualifies at any omega

    report.fixed_after = int(out_fixed.sum())
    report.delta = delta
    report.centres = sorted(centres_used)
    return FixingResult(out_mu, out_sigma, out_fixed, report)


# --------------------------------------------------------------------------------------------
# The public code's variant
# --------------------------------------------------------------------------------------------
def public_round(mu: torch.Tensor, sigma: torch.Tensor, p: float, *, delta0: float = 1.0,
                 delta_growth: float = 2.0, b: int = 7, max_omega: int = MAX_OMEGA,
                 zero_fix: bool = False) -> FixingResult:
    """Re-cluster all weights from scratch as the public code does, fixing exactly ceil(N p)."""
    _check_inputs(mu, sigma, None, p, delta0, delta_growth, max_omega)
    mu64 = mu.detach().flatten().to(torch.float64)
    sigma_floor = sigma.detach().flatten().to(torch.float64).clamp_min(SIGMA_FLOOR)
    out_mu = mu.detach().flatten().clone()
    out_sigma = sigma.detach().flatten().clone()
    assigned = torch.zeros(mu64.numel(), dtype=torch.bool)
    target = fixed_target(mu64.numel(), p)
    report = FixingReport("public", target, 0, 0, 0, 0, float(delta0))
    small = mu64.abs() < 2.0**-b if zero_fix else None
    left, omega, escalation, delta, centres_used = target, 1, 1, float(delta0), set()

    while left > 0:
        free = (~assigned).nonzero().squeeze(1)
        free_mu, free_sigma = mu64[free], sigma_floor[free]
        centres = centre_set(float(free_mu.abs().max()), omega, b)
        n_centres, zero_k = centres.numel(), centres.numel() // 2  # symmetric set: 0 in the middle
        # Centres in reach of weight i: indices [first_in_reach, past_reach), c in [mu - delta s, mu + delta s].
        first_in_reach = torch.searchsorted(centres, free_mu - delta * free_sigma, side="left")
        past_reach = torch.searchsorted(centres, free_mu + delta * free_sigma, side="right")
        zero_extra = None
        if zero_fix:
            zero_extra = small[free] & ~((first_in_reach <= zero_k) & (past_reach > zero_k))

        def reach_counts(rows: torch.Tensor, first=first_in_reach, past=past_reach, extra=zero_extra,
                         n_centres=n_centres, zero_k=zero_k) -> torch.Tensor:
            """Weights of `rows` in reach of each centre: +1 from its first centre in reach, -1 past its last."""
            steps = (torch.bincount(first[rows], minlength=n_centres + 1)
                     - torch.bincount(past[rows], minlength=n_centres + 1))
            counts = torch.cumsum(steps, 0)[:n_centres]
            if extra is not None:
                counts[zero_k] += int(extra[rows].sum())
            return counts

        counts = reach_counts(torch.arange(free.numel()))
        live = torch.ones(free.numel(), dtype=torch.bool)
        while left > 0:
            k = int(torch.argmax(counts))  # removed centres hold -1; first maximum = lowest centre
            if int(counts[k]) <= 0:
                break
            members = (first_in_reach <= k) & (past_reach > k)
            if zero_fix and k == zero_k:
                members |= small[free]
            rows = (members & live).nonzero().squeeze(1)
            dist = (centres[k] - free_mu[rows]).abs() / free_sigma[rows]
            if zero_fix and k == zero_k:
                dist = torch.where(small[free][rows], torch.zeros_like(dist), dist)
            rows = rows[torch.sort(dist, stable=True).indices[:left]]
            chosen = free[rows]
            out_mu[chosen] = float(centres[k])
            out_sigma[chosen] = float(mu64[chosen].std(unbiased=False)) if rows.numel() > 1 else 0.0
            assigned[chosen] = True
            live[rows] = False
            counts -= reach_counts(rows)
            # The public code deletes a used centre until the next escalation; with exact reach
            # this is a no-op (a pick takes every in-reach weight unless the round ends), kept for fidelity.
            counts[k] = -1
            left -= rows.numel()
            report.picks += 1
            centres_used.add(float(centres[k]))
        if left > 0:
            if omega < max_omega and escalation % 2 == 1:
                omega += 1
            else:
                delta *= delta_growth
            escalation += 1

    report.fixed_after = int(assigned.sum())
    report.omega, report.delta, report.centres = omega, delta, sorted(centres_used)
    return FixingResult(out_mu, out_sigma, assigned, report)


def fixing_round(mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor, p: float, *,
                 variant: str = "appendix", zero_fix: bool = False, count: str = "within_delta",
                 **options) -> FixingResult:
    """One round of the chosen variant ("appendix" = Algorithm 1, "public" = the authors' code)."""
    if variant == "appendix":
        if zero_fix:
            raise ValueError("zero_fix belongs to the public variant (variant='public')")
        return algorithm1_round(mu, sigma, fixed, p, count=count, **options)
    if variant == "public":
        return public_round(mu, sigma, p, zero_fix=zero_fix, **options)
    raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


# --------------------------------------------------------------------------------------------
# Bayes-by-backprop layers <-> flat tensors
# --------------------------------------------------------------------------------------------
def _as_layers(layers: Iterable) -> list:
    return [layer[1] if isinstance(layer, tuple) else layer for layer in layers]


def gather_posteriors(layers: Iterable) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Effective means, sigmas and fixed masks of all layers' weights and biases, flattened in order."""
    layers = _as_layers(layers)
    parts = [(layer.mean(name), layer.std(name), layer.fixed(name))
             for layer in layers for name in layer.posterior_names]
    with torch.no_grad():
        return tuple(torch.cat([part[i].detach().flatten() for part in parts]) for i in range(3))


def scatter_posteriors(layers: Iterable, mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor) -> None:
    """Write flat means, sigmas and fixed masks back in the order of gather_posteriors."""
    offset = 0
    for layer in _as_layers(layers):
        for name in layer.posterior_names:
            size = layer.mu(name).numel()
            layer.set_posterior_(name, mu[offset:offset + size], sigma[offset:offset + size],
                                 fixed[offset:offset + size])
            offset += size
    if offset != mu.numel():
        raise ValueError(f"{mu.numel()} values for layers holding {offset}")


def fix_layers(layers: Iterable, p: float, **options) -> FixingReport:
    """One fixing round over the pooled weights and biases of Bayes-by-backprop layers, in place."""
    layers = _as_layers(layers)
    mu, sigma, fixed = gather_posteriors(layers)
    result = fixing_round(mu, sigma, fixed, p, **options)
    scatter_posteriors(layers, result.mu, result.sigma, result.fixed)
    return result.report
