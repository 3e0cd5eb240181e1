"""Scored pruning: exact keep counts per layer, the kept set is the top-score set (brute force by
sorting), the quartic term enters for grad_hessian, deterministic ties, bad rates refused."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from nncompress.pruning.scored import apply_masks, keep_count, nonzero_fraction, prune_masks, score


def layers(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {"first.weight": (7, 13), "mid.weight": (4, 3, 3, 3), "last.weight": (10, 7)}
    weights = {k: torch.randn(s, generator=g, dtype=torch.float64) for k, s in shapes.items()}
    first = {k: torch.rand(s, generator=g, dtype=torch.float64) for k, s in shapes.items()}
    quartic = {k: torch.rand(s, generator=g, dtype=torch.float64) * 50 for k, s in shapes.items()}
    return weights, first, quartic


@pytest.mark.parametrize("keep", [0.01, 0.05, 0.07, 0.1, 1 / 3, 0.5, 0.99, 1.0])
def test_exact_keep_counts_and_top_score_set(keep):
    weights, first, _ = layers()
    masks = prune_masks(weights, first, keep)
    for k, w in weights.items():
        n = w.numel()
        expected_count = math.ceil(round(keep * n, 9))
        assert int(masks[k].sum()) == expected_count  # same rate in every layer, first and last too
        s = (first[k] * w ** 2).flatten().numpy()
        top = set(np.argsort(-s, kind="stable")[:expected_count].tolist())
        assert set(torch.nonzero(masks[k].flatten()).flatten().tolist()) == top


def test_rounding_is_a_ceiling_without_float_noise():
    assert keep_count(100, 0.07) == 7       # 0.07 * 100 = 7.000000000000001 in floating point
    assert keep_count(100, 0.071) == 8
    assert keep_count(3, 0.01) == 1
    assert keep_count(10, 1.0) == 10


def test_quartic_term_changes_the_kept_set_as_the_objective_says():
    w = torch.tensor([[0.1, 1.0]], dtype=torch.float64)
    first = torch.tensor([[150.0, 1.0]], dtype=torch.float64)      # I w²: 1.5 vs 1.0
    quartic = torch.tensor([[0.0, 1.0]], dtype=torch.float64)      # + Q w⁴: 1.5 vs 2.0
    assert prune_masks({"l": w}, {"l": first}, 0.5)["l"].tolist() == [[True, False]]
    assert prune_masks({"l": w}, {"l": first}, 0.5, {"l": quartic})["l"].tolist() == [[False, True]]
    weights, first, quart = layers(1)
    masks = prune_masks(weights, first, 0.2, quart)
    for k, w in weights.items():
        s = first[k] * w ** 2 + quart[k] * w ** 4
        torch.testing.assert_close(score(w, first[k], quart[k]), s)
        assert s[masks[k]].min() >= s[~masks[k]].max()


def test_ties_are_broken_by_index():
    w = torch.ones(2, 5)
    mask = prune_masks({"l": w}, {"l": torch.ones(2, 5)}, 0.3)["l"]
    assert mask.flatten().tolist() == [True, True, True] + [False] * 7


def test_apply_masks_zeroes_the_rest_and_reports_the_nonzero_fraction():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 10), nn.ReLU(), nn.Linear(10, 5))
    weights = {k: p.detach() for k, p in model.named_parameters() if k.endswith("weight")}
    bias_before = model[0].bias.detach().clone()
    masks = prune_masks(weights, {k: torch.ones_like(w) for k, w in weights.items()}, 0.25)
    fraction = apply_masks(model, masks)
    assert fraction == pytest.approx((50 + 13) / 250)
    assert torch.equal(model[0].bias, bias_before)  # biases are not pruned
    assert nonzero_fraction({"a": torch.tensor([0.0, 1.0, 0.0, 2.0])}) == 0.5


@pytest.mark.parametrize("keep", [0, -0.1, 1.01, float("nan"), True])
def test_bad_keep_rates_are_refused(keep):
    weights, first, _ = layers()
    with pytest.raises(ValueError, match="keep-rate"):
        prune_masks(weights, first, keep)
