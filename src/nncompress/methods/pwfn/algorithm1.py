"""Algorithm 1 of the appendix of paper 002: one PWFN fixing round (the default variant).

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

Speed: per omega a level holds each free weight's nearest centre and distance, and the free weights
grouped by centre (one stable integer sort; each group sorted by distance the first time it is
picked); counts are kept by bincount and decremented as weights get fixed; a group's fixed prefix
moves its head pointer, so later picks start where the last one stopped. A level is rebuilt (over
the still-free weights only) when m shrinks enough to change its centre set.
"""
from __future__ import annotations

import math

import torch

from nncompress.methods.pwfn.centres import MAX_OMEGA, centre_set
from nncompress.methods.pwfn.distance import SIGMA_FLOOR
from nncompress.methods.pwfn.result import FixingReport, FixingResult, check_inputs
from nncompress.methods.pwfn.schedule import fixed_target

MIN_CHUNK = 4096  # members scanned at once when a group's prefix is taken (doubles while it runs on)
COUNT_MODES = ("within_delta", "nearest")


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
    check_inputs(mu, sigma, fixed, p, delta0, delta_growth, max_omega)
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

