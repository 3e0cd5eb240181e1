"""Unique values, weight-space entropy and the fixing schedule on known inputs."""
import math

import pytest
import torch

from nncompress.methods.pwfn.metrics import (
    entropy_from_counts,
    unique_values,
    unique_values_per_tensor,
    value_counts,
    weight_entropy_bits,
)
from nncompress.methods.pwfn.schedule import DEFAULT_SCHEDULE, fixed_target, fixed_targets, validate_schedule


def test_unique_values_and_entropy_on_a_known_vector():
    values = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 2.0])
    assert unique_values([values]) == 3
    # p = 2/6, 3/6, 1/6
    expected = -(2 / 6 * math.log2(2 / 6) + 3 / 6 * math.log2(3 / 6) + 1 / 6 * math.log2(1 / 6))
    assert math.isclose(weight_entropy_bits([values]), expected, rel_tol=1e-12)
    assert math.isclose(expected, 1.4591479170272448, rel_tol=1e-12)


def test_pooled_over_tensors_with_both_zeros_as_one_value():
    weight = torch.tensor([[0.5, 0.5], [0.5, -0.25]])
    bias = torch.tensor([0.0, -0.0])
    assert unique_values([weight, bias]) == 3
    assert value_counts([weight, bias])[1].tolist() == [1, 2, 3]  # -0.25, 0, 0.5
    assert math.isclose(weight_entropy_bits([weight, bias]), entropy_from_counts([1, 2, 3]), rel_tol=1e-12)
    assert math.isclose(weight_entropy_bits([weight]), 0.8112781244591328, rel_tol=1e-12)  # H(3/4, 1/4)
    assert unique_values_per_tensor({"weight": weight, "bias": bias, "layer": [weight, bias]}) == {
        "weight": 2, "bias": 1, "layer": 3}


def test_entropy_extremes():
    assert weight_entropy_bits([torch.arange(8.0)]) == 3.0
    assert weight_entropy_bits([torch.full((5,), 0.125)]) == 0.0
    assert weight_entropy_bits([]) == 0.0 and unique_values([]) == 0
    with pytest.raises(ValueError, match="NaN"):
        unique_values([torch.tensor([float("nan")])])


def test_default_schedule_and_exact_targets():
    assert validate_schedule(DEFAULT_SCHEDULE) == (0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 1.0)
    assert fixed_target(10, 0.7) == 7  # 10 * 0.7 is 7.000000000000001 in floating point
    assert fixed_targets(1001, DEFAULT_SCHEDULE) == [201, 401, 601, 701, 801, 901, 951, 976, 991, 1001]
    assert fixed_targets(11_000_000, DEFAULT_SCHEDULE)[0] == 2_200_000


@pytest.mark.parametrize("schedule, message", [
    ([0.2, 0.2, 1.0], "strictly increasing"),
    ([0.4, 0.2, 1.0], "strictly increasing"),
    ([0.2, 0.9], "end at 1.0"),
    ([0.0, 1.0], r"\(0, 1\]"),
    ([0.5, 1.2], r"\(0, 1\]"),
    ([], "empty"),
])
def test_bad_schedules_fail_with_one_line(schedule, message):
    with pytest.raises(ValueError, match=message) as error:
        validate_schedule(schedule)
    assert "\n" not in str(error.value)
