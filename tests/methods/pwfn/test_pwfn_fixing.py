"""PWFN fixing rounds: Algorithm 1 and the public variant on hand-computed cases, and the schedule.

All test values are dyadic (sums of powers of two), so the distances below are exact.
"""
import math

import pytest
import torch

from nncompress.methods.pwfn.centres import centre_set
from nncompress.methods.pwfn.fixing import algorithm1_round, fixing_round, public_round
from nncompress.methods.pwfn.schedule import DEFAULT_SCHEDULE
from nncompress.methods.pwfn.sigma_init import init_sigma

S9 = 2.0**-9  # sigma of the basic case: distances are offsets in units of 2^-9


def basic_case():
    """Three weights round 0.25 at D = 0.25, 0.5, 1.5; one by 0.125 at D = 0.5; one far at 0.9."""
    mu = torch.tensor([0.25 + 2**-11, 0.25 - 2**-10, 0.25 + 3 * 2**-10, 0.125 + 2**-10, 0.9])
    return mu, torch.full((5,), S9), torch.zeros(5, dtype=torch.bool)


def pop_std(*values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def test_running_mean_admits_a_weight_beyond_delta_and_the_target_caps_the_pick():
    mu, sigma, fixed = basic_case()
    # omega = 1, delta = 1: 0.25 has two weights within delta, 0.125 one -> 0.25 wins; its sorted
    # distances 0.25, 0.5, 1.5 have running means 0.25, 0.375, 0.75 < 1: all three qualify.
    result = algorithm1_round(mu, sigma, fixed, 0.6)  # ceil(5 * 0.6) = 3
    assert result.fixed.tolist() == [True, True, True, False, False]
    assert result.mu[:3].tolist() == [0.25] * 3 and result.mu[3:].tolist() == mu[3:].tolist()
    assert math.isclose(float(result.sigma[0]), pop_std(*mu[:3].double().tolist()), rel_tol=1e-6)
    assert (result.report.picks, result.report.omega, result.report.delta) == (1, 1, 1.0)
    # target 2: only the two closest of the same group
    result = algorithm1_round(mu, sigma, fixed, 0.4)
    assert result.fixed.tolist() == [True, True, False, False, False]


def test_delta_doubles_until_omega_4_reaches_the_far_weight():
    mu, sigma, fixed = basic_case()
    result = algorithm1_round(mu, sigma, fixed, 1.0)
    # picks: 0.25 group (3 weights), 0.125 (1 weight, sigma 0); then 0.9 (float32 0.899999976) is
    # at D = 204.8 (omega 1: 0.5), 76.8 (omega 2: 0.75), 12.8 (omega 3: 0.875), 4.8 (omega 4: 0.890625)
    # from its nearest centres, so delta doubles 1 -> 2 -> 4 -> 8 and omega 4 fixes it.
    assert result.fixed.all()
    assert result.mu.tolist() == [0.25, 0.25, 0.25, 0.125, 0.890625]
    assert result.sigma[3:].tolist() == [0.0, 0.0]
    assert (result.report.picks, result.report.omega, result.report.delta) == (3, 4, 8.0)
    assert result.report.centres == [0.125, 0.25, 0.890625]


def test_omega_rises_to_2_and_restarts_at_1_for_every_pick():
    # m = 0.375 + 2^-11, so powers up to 0.25: 0.375 = 0.25 + 0.125 needs omega = 2, and the
    # omega-1 centre nearest to w0, w1 is 0.25 at D ~ 64. w2 sits at D = 0.125 from 2^-7.
    mu = torch.tensor([0.375 + 2**-11, 0.375 - 2**-11, 2**-7 + 2**-12])
    result = algorithm1_round(mu, torch.full((3,), S9), torch.zeros(3, dtype=torch.bool), 1.0)
    assert result.mu.tolist() == [0.375, 0.375, 2**-7]
    assert result.sigma.tolist() == [2**-11, 2**-11, 0.0]  # population std of +-2^-11; a group of one
    assert (result.report.picks, result.report.omega, result.report.delta) == (2, 2, 1.0)
    assert result.report.centres == [2**-7, 0.375]


def test_delta_doubles_twice_and_omega_3_fixes():
    # 0.3 (m = 0.3, powers up to 0.25) at sigma 2^-10: nearest centres 0.25 (D 51.2), 0.28125 (19.2),
    # 0.296875 (3.2; 0.3125 and 0.3046875 exceed m): delta 1 -> 2 -> 4, then omega 3 succeeds.
    mu = torch.tensor([0.3, -(2**-6) - 2**-12])
    result = algorithm1_round(mu, torch.full((2,), 2.0**-10), torch.zeros(2, dtype=torch.bool), 1.0)
    assert result.mu.tolist() == [0.296875, -(2**-6)]
    assert (result.report.picks, result.report.omega, result.report.delta) == (2, 3, 4.0)


def test_within_delta_and_nearest_counts_pick_different_centres():
    # three weights at D = 3 from 0.0625, one at D = 0.25 from 0.25 (sigma 2^-12); fix one weight
    mu = torch.tensor([0.0625 + 3 * 2**-12] * 3 + [0.25 + 2**-14])
    sigma, fixed = torch.full((4,), 2.0**-12), torch.zeros(4, dtype=torch.bool)
    within = algorithm1_round(mu, sigma, fixed, 0.25)
    assert within.fixed.tolist() == [False, False, False, True] and within.report.delta == 1.0
    # the printed count: 0.0625 has the most nearest weights at every omega, its closest is at D = 3,
    # so delta doubles to 4 and the first of the three is fixed
    nearest = algorithm1_round(mu, sigma, fixed, 0.25, count="nearest")
    assert nearest.fixed.tolist() == [True, False, False, False]
    assert nearest.mu[0] == 0.0625 and nearest.report.delta == 4.0


def test_already_fixed_weights_are_untouched_excluded_and_ties_go_to_the_lower_centre():
    mu, sigma, fixed = basic_case()
    fixed[0] = True  # fixed in an earlier round at its current value
    result = algorithm1_round(mu, sigma, fixed, 0.6)  # 3 in all: 2 more
    # free within delta = 1: 0.125 has w3 (0.5), 0.25 has w1 (0.5; w2 is at 1.5): a tie, the lower
    # centre 0.125 goes first; then 0.25, whose running means are 0.5, then (0.5 + 1.5) / 2 = 1.0
    # (not < 1), so w1 alone.
    assert result.fixed.tolist() == [True, True, False, True, False]
    assert result.mu[0] == mu[0] and result.sigma[0] == sigma[0]
    assert result.mu[1] == 0.25 and result.mu[3] == 0.125
    assert (result.report.picks, result.report.delta, result.report.centres) == (2, 1.0, [0.125, 0.25])
    one_more = algorithm1_round(mu, sigma, fixed, 0.4)  # 2 in all: the tie alone decides
    assert one_more.fixed.tolist() == [True, False, False, True, False]
    with pytest.raises(ValueError, match="already fixed"):
        algorithm1_round(mu, sigma, torch.ones(5, dtype=torch.bool), 0.5)


@pytest.mark.parametrize("count", ["within_delta", "nearest"])
def test_schedule_fixes_exactly_ceil_n_p_nested_and_all_at_the_end(count):
    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(1001, generator=generator) * 0.05
    mu[:5] = torch.tensor([0.0, 0.5, -0.25, 2**-9, 0.0])  # zeros, exact powers, a tiny weight
    sigma = init_sigma(mu)
    fixed = torch.zeros(1001, dtype=torch.bool)
    targets = [201, 401, 601, 701, 801, 901, 951, 976, 991, 1001]  # ceil(1001 p_t) by hand
    for p, target in zip(DEFAULT_SCHEDULE, targets):
        result = algorithm1_round(mu, sigma, fixed, p, count=count)
        assert int(result.fixed.sum()) == target == result.report.fixed_after
        assert bool(result.fixed[fixed].all())                       # nested
        assert torch.equal(result.mu[fixed], mu[fixed])              # fixed values stay put
        assert torch.equal(result.sigma[fixed], sigma[fixed])
        new = result.fixed & ~fixed
        grid = result.mu[new].double() * 128                         # multiples of 2^-7 ...
        assert torch.equal(grid, grid.round())
        assert all(bin(int(abs(v))).count("1") <= 4 for v in grid.tolist())  # ... with <= 4 bits
        mu, sigma, fixed = result.mu, result.sigma, result.fixed
    assert fixed.all()


def test_fixed_values_are_centres_of_the_free_maximum():
    generator = torch.Generator().manual_seed(1)
    mu = torch.randn(500, generator=generator) * 0.1
    result = algorithm1_round(mu, init_sigma(mu), torch.zeros(500, dtype=torch.bool), 0.5)
    allowed = set(centre_set(float(mu.abs().max()), 4).tolist())
    assert set(result.mu[result.fixed].double().tolist()) <= allowed


def test_public_variant_uses_a_per_weight_threshold():
    mu, sigma, fixed = basic_case()
    # delta = 1, omega = 1: in reach (D <= 1) of 0.25: w0, w1 (w2 at 1.5 is not); of 0.125: w3.
    # 0.25 first (two), then 0.125 -> {w0, w1, w3}, where Algorithm 1 took {w0, w1, w2}.
    result = public_round(mu, sigma, 0.6)
    assert result.fixed.tolist() == [True, True, False, True, False]
    assert result.mu.tolist()[:4] == [0.25, 0.25, float(mu[2]), 0.125]
    assert result.sigma[0] == result.sigma[1] == 3 * 2**-12  # population std of 0.25 + 2^-11, 0.25 - 2^-10
    assert (result.report.picks, result.report.omega, result.report.delta) == (2, 1, 1.0)


def test_public_variant_escalates_omega_and_delta_in_turn():
    # 0.3 at sigma 2^-10: D = 51.2, 19.2, 3.2 from the omega 1, 2, 3 centres: omega -> 2 (fails),
    # delta -> 2 (fails), omega -> 3 (3.2 > 2 fails), delta -> 4 (fixes).
    result = public_round(torch.tensor([0.3]), torch.tensor([2.0**-10]), 1.0)
    assert result.mu.tolist() == [0.296875]
    assert (result.report.omega, result.report.delta) == (3, 4.0)


def test_public_variant_zero_fix_and_centre_removal():
    mu = torch.tensor([2.0**-9, -(2.0**-8)])  # below 2^-7; m = 2^-8 leaves only the centre 0
    sigma = torch.full((2,), 2.0**-20)
    with_zero_fix = public_round(mu, sigma, 1.0, zero_fix=True)
    assert with_zero_fix.mu.tolist() == [0.0, 0.0] and with_zero_fix.report.picks == 1
    assert with_zero_fix.sigma.tolist() == [3 * 2**-10] * 2
    # zero-fixed weights are at distance 0 of 0, so they go first when the target cuts the group:
    # w1 (sigma 2^-12, D = 1 from 0) is in reach too, but w0 counts as D = 0 < 1
    capped = public_round(torch.tensor([2.0**-9, -(2.0**-12)]), torch.tensor([2.0**-20, 2.0**-12]), 0.5,
                          zero_fix=True)
    assert capped.fixed.tolist() == [True, False]
    # without: D = 2048 and 4096 from 0. Escalations omega 2, delta 2, omega 3, delta 4, omega 4,
    # then delta 8 ... 2048 fixes w0 and removes the centre; delta 4096 brings it back for w1.
    plain = public_round(mu, sigma, 1.0)
    assert plain.mu.tolist() == [0.0, 0.0] and plain.sigma.tolist() == [0.0, 0.0]
    assert (plain.report.picks, plain.report.omega, plain.report.delta) == (2, 4, 4096.0)
    # Algorithm 1 on the same: the first delta above 2048 is 4096, and the running mean
    # (2048 + 4096) / 2 < 4096 takes both in one pick
    appendix = algorithm1_round(mu, sigma, torch.zeros(2, dtype=torch.bool), 1.0)
    assert (appendix.report.picks, appendix.report.delta) == (1, 4096.0)


def test_public_variant_reclusters_previously_fixed_weights():
    generator = torch.Generator().manual_seed(2)
    mu = torch.randn(400, generator=generator) * 0.05
    sigma = init_sigma(mu)
    for p, target in [(0.2, 80), (0.4, 160), (0.7, 280), (1.0, 400)]:
        result = fixing_round(mu, sigma, torch.zeros(400, dtype=torch.bool), p, variant="public")
        assert int(result.fixed.sum()) == target
        mu, sigma = result.mu, result.sigma


def test_bad_options_are_rejected():
    mu, sigma, fixed = basic_case()
    with pytest.raises(ValueError, match="omega"):
        algorithm1_round(mu, sigma, fixed, 0.5, max_omega=5)
    with pytest.raises(ValueError, match="variant"):
        fixing_round(mu, sigma, fixed, 0.5, variant="wfn")
    with pytest.raises(ValueError, match="zero_fix"):
        fixing_round(mu, sigma, fixed, 0.5, zero_fix=True)
    with pytest.raises(ValueError, match="count"):
        algorithm1_round(mu, sigma, fixed, 0.5, count="most")
    with pytest.raises(ValueError, match="finite"):
        algorithm1_round(torch.tensor([float("nan")]), torch.ones(1), torch.zeros(1, dtype=torch.bool), 1.0)


def naive_algorithm1(mu, sigma, fixed, p, count):
    """Algorithm 1 recomputed from scratch at every pick with a full distance matrix (slow, plain)."""
    from nncompress.methods.pwfn.schedule import fixed_target
    mu, sigma, fixed = mu.clone(), sigma.clone(), fixed.clone()
    spread = sigma.double().clamp_min(2.0**-20)
    target, delta = fixed_target(mu.numel(), p), 1.0
    while int(fixed.sum()) < target:
        free = (~fixed).nonzero().squeeze(1)
        free_mu = mu[free].double()
        for omega in (1, 2, 3, 4):
            centres = centre_set(float(free_mu.abs().max()), omega)
            distance = (centres[None, :] - free_mu[:, None]).abs() / spread[free][:, None]
            nearest = distance.argmin(1)  # first minimum: the lower centre on ties
            own = distance.gather(1, nearest[:, None]).squeeze(1)
            if count == "nearest":
                counts = torch.bincount(nearest, minlength=centres.numel())
            else:
                counts = torch.bincount(nearest[own < delta], minlength=centres.numel())
            k = int(counts.argmax())
            if counts[k] == 0:
                continue
            members = (nearest == k).nonzero().squeeze(1)
            members = members[torch.sort(own[members], stable=True).indices]
            means = torch.cumsum(own[members], 0) / torch.arange(1, members.numel() + 1)
            take = members[:min(int((means < delta).sum()), target - int(fixed.sum()))]
            if take.numel():
                chosen = free[take]
                sigma[chosen] = float(mu[chosen].double().std(unbiased=False)) if take.numel() > 1 else 0.0
                mu[chosen] = float(centres[k])
                fixed[chosen] = True
                break
        else:
            delta *= 2
    return mu, sigma, fixed


@pytest.mark.parametrize("count", ["within_delta", "nearest"])
def test_incremental_algorithm1_equals_a_plain_recomputation_over_a_schedule(count, monkeypatch):
    from nncompress.methods.pwfn import algorithm1
    builds_per_round = []
    original_level = algorithm1._Level
    monkeypatch.setattr(algorithm1, "MIN_CHUNK", 1)  # prefixes taken across many small chunks
    monkeypatch.setattr(algorithm1, "_Level", lambda *a: builds_per_round.__setitem__(-1, builds_per_round[-1] + 1)
                        or original_level(*a))
    generator = torch.Generator().manual_seed(3)
    mu = torch.randn(300, generator=generator) * 0.05
    mu[:4] = torch.tensor([0.31, -0.27, 0.0, 2.0**-5])  # a tail that sets m and gets fixed late
    sigma = init_sigma(mu)
    fast = slow = (mu, sigma, torch.zeros(300, dtype=torch.bool))
    for p in DEFAULT_SCHEDULE:
        builds_per_round.append(0)
        fast = algorithm1_round(*fast, p, count=count)[:3]
        slow = naive_algorithm1(*slow, p, count)
        assert torch.equal(fast[2], slow[2]) and torch.equal(fast[0], slow[0])
        assert torch.allclose(fast[1], slow[1], rtol=1e-6, atol=0)
    if count == "within_delta":
        assert max(builds_per_round) > 4  # m shrank inside a round and levels were rebuilt


def naive_public(mu, sigma, p, zero_fix):
    """The public variant with a full distance matrix per pick (slow, plain)."""
    from nncompress.methods.pwfn.schedule import fixed_target
    mu64, spread = mu.double(), sigma.double().clamp_min(2.0**-20)
    out_mu, out_sigma, assigned = mu.clone(), sigma.clone(), torch.zeros(mu.numel(), dtype=torch.bool)
    left, omega, escalation, delta = fixed_target(mu.numel(), p), 1, 1, 1.0
    while left > 0:
        free = (~assigned).nonzero().squeeze(1)
        centres = centre_set(float(mu64[free].abs().max()), omega)
        distance = (centres[None, :] - mu64[free][:, None]).abs() / spread[free][:, None]
        if zero_fix:
            distance[mu64[free].abs() < 2.0**-7, centres.numel() // 2] = 0.0
        usable = torch.ones(centres.numel(), dtype=torch.bool)
        alive = torch.ones(free.numel(), dtype=torch.bool)
        while left > 0:
            counts = ((distance <= delta) & alive[:, None]).sum(0).masked_fill(~usable, -1)
            k = int(counts.argmax())
            if counts[k] <= 0:
                break
            rows = ((distance[:, k] <= delta) & alive).nonzero().squeeze(1)
            rows = rows[torch.sort(distance[rows, k], stable=True).indices[:left]]
            chosen = free[rows]
            out_sigma[chosen] = float(mu64[chosen].std(unbiased=False)) if rows.numel() > 1 else 0.0
            out_mu[chosen] = float(centres[k])
            assigned[chosen], alive[rows], usable[k] = True, False, False
            left -= rows.numel()
        if left > 0:
            if omega < 4 and escalation % 2 == 1:
                omega += 1
            else:
                delta *= 2
            escalation += 1
    return out_mu, out_sigma, assigned


@pytest.mark.parametrize("zero_fix", [False, True])
def test_public_variant_equals_a_plain_recomputation_over_a_schedule(zero_fix):
    generator = torch.Generator().manual_seed(4)
    mu = torch.randn(300, generator=generator) * 0.05
    sigma = init_sigma(mu)
    fast = slow = (mu, sigma)
    for p in DEFAULT_SCHEDULE:
        result = public_round(*fast, p, zero_fix=zero_fix)
        reference = naive_public(*slow, p, zero_fix)
        assert torch.equal(result.fixed, reference[2]) and torch.equal(result.mu, reference[0])
        assert torch.allclose(result.sigma, reference[1], rtol=1e-6, atol=0)
        fast, slow = (result.mu, result.sigma), reference[:2]
