"""Minimal random coding: the selection law, chunk independence, bit-exact materialisation."""
import math

import pytest
import torch

from nncompress.coding.mrc import candidate_key, materialise, search_block
from nncompress.core import generator as G


def _block(dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    rho = torch.full((dim,), 0.1)
    mu = torch.randn(dim, generator=g) * 0.05
    sigma = torch.rand(dim, generator=g) * 0.05 + 0.02
    return mu, sigma, rho


def _log_ratios(seed, block, mu, sigma, rho, k):
    w = rho * G.normals(candidate_key(seed, block), 0, k, len(mu)).double()
    lq = torch.distributions.Normal(mu.double(), sigma.double()).log_prob(w).sum(1)
    lp = torch.distributions.Normal(0.0, rho.double()).log_prob(w).sum(1)
    return lq - lp


def test_argmax_is_the_best_candidate_by_brute_force():
    mu, sigma, rho = _block()
    found = search_block(0, 3, mu, sigma, rho, 4096, chunk=500, selection="argmax")
    lr = _log_ratios(0, 3, mu, sigma, rho, 4096)
    assert found.index == int(lr.argmax())
    assert found.log_ratio == pytest.approx(float(lr.max()), abs=1e-3)


@pytest.mark.parametrize("chunk", [64, 1000, 4096])
def test_index_independent_of_chunk(chunk):
    mu, sigma, rho = _block()
    ref = search_block(0, 5, mu, sigma, rho, 4096, chunk=4096).index
    assert search_block(0, 5, mu, sigma, rho, 4096, chunk=chunk).index == ref


def test_selected_samples_follow_the_posterior():
    # With K >> exp(KL) the coded sample is (close to) a draw from q: check its first two moments.
    mu, sigma, rho = torch.tensor([0.05]), torch.tensor([0.03]), torch.tensor([0.1])
    draws = torch.stack([materialise(0, b, search_block(0, b, mu, sigma, rho, 1024).index, rho)
                         for b in range(300)]).flatten()
    assert abs(draws.mean().item() - 0.05) < 4 * 0.03 / math.sqrt(300)
    assert 0.022 < draws.std().item() < 0.038


def test_materialise_is_rho_times_canonical_normals():
    rho = torch.tensor([0.1, 0.2, 0.3])
    z = G.canonical_normals(candidate_key(9, 2), 77, 3)
    assert torch.equal(materialise(9, 2, 77, rho), rho * z)


def test_bad_selection_rejected():
    with pytest.raises(ValueError, match="selection"):
        search_block(0, 0, *_block(), 16, selection="best")
