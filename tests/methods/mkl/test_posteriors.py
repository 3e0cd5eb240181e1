"""Mean-KL posterior: each block's KL equals the budget by construction."""
import math

import pytest
import torch

from nncompress.core.blocks import BlockPartition
from nncompress.methods.mkl.posteriors import MeanKLPosterior
from nncompress.priors.gaussian import gaussian_kl

KAPPA = 20 * math.log(2)


def _posterior(halley, n=1000, bs=30, seed=0):
    torch.manual_seed(seed)
    part = BlockPartition(n, bs, seed)
    rho = torch.exp(torch.randn(n, dtype=torch.float64) * 0.3 - 2)
    q = MeanKLPosterior(torch.randn(n, dtype=torch.float64) * 0.05, rho, part, KAPPA, halley_steps=halley)
    with torch.no_grad():  # spread quotas widely, some weights get most of their block's budget
        q.tau.copy_(torch.randn(n, dtype=torch.float64) * 2)
        q.gamma.copy_(torch.randn(n, dtype=torch.float64) * 3)
    return q, rho, part


@pytest.mark.parametrize("halley,tol", [(0, 2e-3), (3, 1e-9)])
def test_block_kl_equals_budget(halley, tol):
    q, rho, part = _posterior(halley)
    mu, sigma = q.moments(rho, part)
    kl = part.block_sum(gaussian_kl(mu, sigma, rho))
    assert torch.allclose(kl, torch.full_like(kl, KAPPA), rtol=tol)


def test_mean_inside_the_feasible_interval():
    q, rho, part = _posterior(0)
    mu, _ = q.moments(rho, part)
    kappa_w = part.block_softmax(q.gamma) * KAPPA
    assert (mu.abs() < rho * torch.sqrt(2 * kappa_w)).all()


def test_init_inverts_eq6_at_equal_quotas():
    part = BlockPartition(90, 30, 0)
    rho = torch.full((90,), math.exp(-2), dtype=torch.float64)
    init = torch.linspace(-0.05, 0.05, 90, dtype=torch.float64)
    q = MeanKLPosterior(init, rho, part, KAPPA)
    mu, _ = q.moments(rho, part)
    assert torch.allclose(mu, init, atol=1e-9)


def test_gradients_flow_to_tau_and_gamma():
    q, rho, part = _posterior(0, n=60)
    mu, sigma = q.moments(rho, part)
    (mu.sum() + sigma.sum()).backward()
    assert q.tau.grad.abs().sum() > 0 and q.gamma.grad.abs().sum() > 0
