"""D_prob and the sigma initialisation of appendix eq. 8-9 on values computed by hand."""
import math

import pytest
import torch

from nncompress.methods.pwfn.distance import prob_distance
from nncompress.methods.pwfn.sigma_init import init_sigma, pow2_down, pow2_up, quantile

F64 = torch.float64


def test_prob_distance_in_sigmas_with_floor_2_pow_minus_20():
    mu = torch.tensor([0.3, 2.0**-18, 2.0**-18, -0.1], dtype=F64)
    sigma = torch.tensor([0.1, 0.0, -1.0, 0.05], dtype=F64)
    centre = torch.tensor([0.5, 0.0, 0.0, -0.25], dtype=F64)
    # 0.2 / 0.1; 2^-18 / 2^-20 (sigma 0 and negative floored); 0.15 / 0.05
    assert torch.allclose(prob_distance(mu, sigma, centre), torch.tensor([2.0, 4.0, 4.0, 3.0], dtype=F64),
                          rtol=1e-14, atol=0)


def test_powers_of_two_up_and_down_including_exact_powers_and_signs():
    mu = torch.tensor([0.75, 0.5, -0.3, 3.0, 2.0**-40, 0.0], dtype=F64)
    assert pow2_up(mu).tolist() == [1.0, 0.5, -0.5, 4.0, 2.0**-40, 0.0]
    assert pow2_down(mu).tolist() == [0.5, 0.5, -0.25, 2.0, 2.0**-40, 0.0]


def test_quantile_matches_linear_interpolation():
    values = torch.tensor([0.0, 1.0 / 9, 1.0 / 9, 0.12], dtype=F64)
    assert math.isclose(quantile(values, 0.75), 1.0 / 9 + 0.25 * (0.12 - 1.0 / 9), rel_tol=1e-15)
    assert quantile(torch.tensor([5.0]), 0.75) == 5.0


def test_eq8_by_hand_with_zero_and_an_exact_power_of_two():
    mu = torch.tensor([0.75, 0.625, 0.5, 0.0, -0.3], dtype=F64)
    # products D_rel(up) * D_rel(down): 0.75 -> (1/3)(1/3); 0.625 -> 0.6 * 0.2; 0.5 -> 0; -0.3 -> (2/3)(1/6)
    # third quartile over the non-zero means [0, 1/9, 1/9, 0.12] (sorted): position 2.25
    q = 1.0 / 9 + 0.25 * (0.12 - 1.0 / 9)
    expected = [0.0025 * (1 / 9) / q, 0.0025 * 0.12 / q, 2.0**-30, 0.05, 0.0025 * (1 / 9) / q]
    sigma = init_sigma(mu)
    assert not torch.isnan(sigma).any()
    assert torch.allclose(sigma, torch.tensor(expected, dtype=F64), rtol=1e-12, atol=0)
    assert init_sigma(mu, zero_sigma=2.0**-30)[3] == 2.0**-30


def test_eq8_quantile_of_the_up_distance_alone():
    mu = torch.tensor([0.75, 0.625, 0.5, -0.3], dtype=F64)
    q_up = 0.6 + 0.25 * (2 / 3 - 0.6)  # D_rel(mu, pow2_up) = [1/3, 0.6, 0, 2/3]
    sigma = init_sigma(mu, quantile_of="up")
    assert math.isclose(float(sigma[0]), 0.0025 * (1 / 9) / q_up, rel_tol=1e-12)


def test_clamps_to_cap_and_floor():
    near_one = 1 + 2.0**-10
    product_near_one = (1 - 2.0**-10) * 2.0**-10 / near_one**2  # D_up * D_down of 1 + 2^-10
    mu = torch.tensor([near_one] * 4 + [0.75], dtype=F64)
    sigma = init_sigma(mu)  # the quartile is product_near_one, so 0.75 gets 0.0025 (1/9) / it > 0.05
    assert math.isclose(float(sigma[0]), 0.0025, rel_tol=1e-12)
    assert float(sigma[4]) == 0.05 and 0.0025 * (1 / 9) / product_near_one > 0.05
    # three quarters exact powers of two: quartile 0; powers get the floor, the rest the cap, no NaN
    sigma = init_sigma(torch.tensor([0.5, 0.25, 1.0, 2.0, 0.3], dtype=F64))
    assert sigma.tolist() == [2.0**-30] * 4 + [0.05]


def test_all_zero_tensor_and_float32_random_give_no_nan():
    assert init_sigma(torch.zeros(3)).tolist() == pytest.approx([0.05] * 3)
    mu = torch.randn(10_000, generator=torch.Generator().manual_seed(0)) * 0.05
    mu[::7] = 0.0
    sigma = init_sigma(mu)
    assert sigma.dtype == torch.float32 and torch.isfinite(sigma).all()
    assert float(sigma.min()) >= 2.0**-30 and float(sigma.max()) <= float(torch.tensor(0.05))  # float32 cap
