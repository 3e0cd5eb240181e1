"""The authors' public code's fixing round (subiawaud/PWFN; REFERENCE.md §3), for comparison with
Algorithm 1 (algorithm1.py).

Notation: N weights pooled over all layers, means mu_i, sigmas sigma_i, D_prob as in distance.py,
C^omega the centre sets of centres.py with m = max|mu| over the free weights, p_t the schedule.

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
"""
from __future__ import annotations

import torch

from nncompress.methods.pwfn.centres import MAX_OMEGA, centre_set
from nncompress.methods.pwfn.distance import SIGMA_FLOOR
from nncompress.methods.pwfn.result import FixingReport, FixingResult, check_inputs
from nncompress.methods.pwfn.schedule import fixed_target


def public_round(mu: torch.Tensor, sigma: torch.Tensor, p: float, *, delta0: float = 1.0,
                 delta_growth: float = 2.0, b: int = 7, max_omega: int = MAX_OMEGA,
                 zero_fix: bool = False) -> FixingResult:
    """Re-cluster all weights from scratch as the public code does, fixing exactly ceil(N p)."""
    check_inputs(mu, sigma, None, p, delta0, delta_growth, max_omega)
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

