"""PWFN centre sets against brute-force subset sums and the sizes REFERENCE.md §3 gives."""
import itertools

import pytest

from nncompress.methods.pwfn.centres import ceil_log2, centre_set, check_omega, power_set


def brute_force_centres(m, omega, b=7):
    """0 and +-sums of <= omega distinct powers 2^-b..2^(K-1), K the least integer with 2^K >= m."""
    if m == 0:
        return [0.0]
    top = -60
    while 2.0**top < m:
        top += 1
    powers = [2.0**e for e in range(-b, top)]
    sums = {0.0}
    for k in range(1, omega + 1):
        for subset in itertools.combinations(powers, k):
            if sum(subset) <= m:
                sums.update({sum(subset), -sum(subset)})
    return sorted(sums)


def test_sizes_for_m_0_9_match_reference():
    assert [centre_set(0.9, omega).numel() for omega in (1, 2, 3, 4)] == [15, 57, 127, 193]


@pytest.mark.parametrize("m", [0.9, 0.3, 1.0, 0.5000001, 2.5, 0.005, 2.0**-7, 2.0**-7 + 2.0**-9, 0.0])
@pytest.mark.parametrize("omega", [1, 2, 3, 4])
def test_centre_set_equals_brute_force_subset_sums(m, omega):
    assert centre_set(m, omega).tolist() == brute_force_centres(m, omega)


def test_omega_1_is_zero_and_signed_powers():
    assert centre_set(0.9, 1).tolist() == [-0.5, -0.25, -0.125, -0.0625, -0.03125, -0.015625, -0.0078125, 0.0,
                                           0.0078125, 0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5]


def test_sets_are_nested_and_cap_at_m():
    previous = set()
    for omega in (1, 2, 3, 4):
        current = set(centre_set(0.9, omega).tolist())
        assert previous <= current
        previous = current
    # 0.5+0.25+0.125+0.0625 = 0.9375 and 0.90625 exceed m = 0.9; 0.890625 does not
    assert 0.890625 in previous and 0.90625 not in previous and 0.9375 not in previous


def test_power_set_and_exact_ceil_log2():
    assert ceil_log2(0.5) == -1 and ceil_log2(0.5000001) == 0 and ceil_log2(3.0) == 2
    assert power_set(0.9) == [2.0**e for e in range(-7, 0)]
    assert power_set(2.0**-8) == []        # below 2^-b: only the centre 0 remains
    assert centre_set(2.0**-8, 4).tolist() == [0.0]


@pytest.mark.parametrize("bad", [0, 5, -1, 2.5, "2", True, None])
def test_omega_outside_1_to_4_is_rejected(bad):
    with pytest.raises(ValueError, match="omega"):
        check_omega(bad)
    with pytest.raises(ValueError, match="omega"):
        centre_set(0.9, bad)
