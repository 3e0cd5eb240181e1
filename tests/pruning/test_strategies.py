"""Pruning orders: exact counts, no repeats, nesting, and the KL rule against a brute force."""
import numpy as np
import pytest
import torch
from scipy.stats import norm

from nncompress.pruning.strategies import STRATEGIES, n_pruned, prune, prune_order


def _posterior(n=1001, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, generator=g) * 0.1
    sigma = torch.rand(n, generator=g) * 0.1 + 1e-3
    sample = mu + sigma * torch.randn(n, generator=g)
    return sample, mu, sigma


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_counts_uniqueness_and_nesting(strategy):
    sample, mu, sigma = _posterior()
    order = prune_order(strategy, sample, mu, sigma, seed=3)
    assert torch.equal(torch.sort(order).values, torch.arange(sample.numel()))  # never twice
    previous = torch.zeros(sample.numel(), dtype=torch.bool)
    for f in np.linspace(0, 1, 21):
        pruned = prune(sample + 10.0, order, float(f)) == 0  # shift so no weight is 0 by chance
        assert int(pruned.sum()) == round(f * sample.numel())
        assert (pruned | ~previous).all() and (pruned >= previous).all()  # nested
        previous = pruned


def test_magnitude_prunes_smallest_first():
    sample = torch.tensor([0.5, -0.1, 0.05, -2.0, 0.3])
    assert prune_order("magnitude", sample).tolist() == [2, 1, 4, 0, 3]


def test_kl_matches_brute_force_density_at_zero():
    sample, mu, sigma = _posterior(n=200, seed=1)
    log_density = norm.logpdf(0.0, loc=mu.double().numpy(), scale=sigma.double().numpy())
    expected = np.argsort(-log_density, kind="stable")
    assert prune_order("kl", sample, mu, sigma).tolist() == expected.tolist()


def test_random_is_seeded_and_repeats_differ():
    sample, _, _ = _posterior()
    assert torch.equal(prune_order("random", sample, seed=1), prune_order("random", sample, seed=1))
    assert not torch.equal(prune_order("random", sample, seed=1), prune_order("random", sample, seed=2))


def test_bad_input():
    with pytest.raises(ValueError, match="unknown pruning strategy"):
        prune_order("largest", torch.ones(3))
    with pytest.raises(ValueError, match="needs the posterior"):
        prune_order("kl", torch.ones(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        n_pruned(1.5, 10)
