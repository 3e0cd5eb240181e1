"""The paper's compression ratio and the public code's entropy version on hand-computed examples."""
import math

import pytest

from nncompress.methods.rd.accounting import (
    ceil_log2_ratio,
    entropy_bits,
    entropy_ratio,
    paper_bits,
    paper_ratio,
)


def test_hand_computed_single_layer():
    # m = 8 in clusters (4, 2, 1, 1): ⌈log₂ 2⌉ = 1, ⌈log₂ 4⌉ = 2, ⌈log₂ 8⌉ = 3 → 4·1 + 2·2 + 1·3 + 1·3 = 14
    assert paper_bits([4, 2, 1, 1], b=32) == 14 + 4 * 32
    assert paper_ratio([[4, 2, 1, 1]]) == pytest.approx(8 * 32 / (14 + 128))
    # the same counts are dyadic: entropy 1.75 bits per weight, equal to the ceiling code
    assert entropy_bits([4, 2, 1, 1]) == pytest.approx(14 + 128)


def test_ceiling_versus_entropy_on_non_dyadic_counts():
    # m = 3 in (2, 1): ⌈log₂ 1.5⌉ = 1, ⌈log₂ 3⌉ = 2 → 2 + 2 = 4 bits; entropy 3·H(2/3, 1/3) = 2.7549
    assert paper_bits([2, 1], b=0) == 4
    entropy = -(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3)
    assert entropy_bits([2, 1], b=0) == pytest.approx(3 * entropy)
    layers = [[2, 1], [5, 0, 3]]  # an empty cluster: no index bits, but its centre is stored
    assert paper_bits([5, 0, 3], b=32) == 5 * 1 + 3 * 2 + 3 * 32
    expected = (3 + 8) * 32 / ((4 + 64) + (11 + 96))
    assert paper_ratio(layers) == pytest.approx(expected)
    assert entropy_ratio(layers) > paper_ratio(layers)


def test_single_cluster_and_exact_powers_of_two():
    assert paper_bits([10], b=32) == 32  # 0 bits per index
    assert ceil_log2_ratio(1 << 20, 1 << 10) == 10
    assert ceil_log2_ratio((1 << 20) + 1, 1 << 10) == 11
    assert ceil_log2_ratio(7, 7) == 0 and ceil_log2_ratio(7, 6) == 1


@pytest.mark.parametrize("counts", [[], [0, 0], [3, -1]])
def test_bad_counts_are_refused(counts):
    with pytest.raises(ValueError):
        paper_bits(counts)
    with pytest.raises(ValueError):
        entropy_ratio([counts] if counts else [])
