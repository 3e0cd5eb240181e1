"""MIRACLE objectives and the KL annealing rule of paper 000."""
import math

import torch
import torch.nn.functional as F

from nncompress.methods.mkl.module import MiracleModule
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

TINY = ArchSpec("lenet5", {"conv1": 10, "conv2": 100, "fc1": 1000, "fc2": 50})


def test_annealing_rule_per_block():
    m = MiracleModule(CodedNetwork(TINY), "meanvar", block_size=30, beta_init=1e-8, beta_eps=5e-5)
    nb = m.partition.n_blocks
    kl = torch.full((nb,), m.budget_nats)
    kl[::2] += 1.0  # even blocks over budget
    kl[1::2] -= 1.0
    m._last_block_kl = kl
    m.block_done[0] = True  # a coded block keeps its beta
    m.anneal_beta()
    assert m.beta[0] == torch.tensor(1e-8)
    assert torch.allclose(m.beta[2::2], torch.tensor(1e-8 * (1 + 5e-5)))
    assert torch.allclose(m.beta[1::2], torch.tensor(1e-8 / (1 + 5e-5)))
    assert math.isclose(m.budget_nats, 20 * math.log(2))


def test_losses():
    torch.manual_seed(0)
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    for kind in ("meanvar", "meankl"):
        m = MiracleModule(CodedNetwork(TINY), kind, block_size=30)
        g = torch.Generator().manual_seed(3)
        loss, ce, kl_b = m.objective(x, y, generator=g)
        mu, sigma, _ = m.moments()
        g = torch.Generator().manual_seed(3)
        w = mu + sigma * torch.randn(mu.shape, generator=g)
        assert torch.allclose(ce, F.cross_entropy(m.network(x, w), y))
        expected = ce + (m.beta * kl_b).sum() if kind == "meanvar" else ce
        assert torch.allclose(loss, expected)


def test_fixed_blocks_use_their_values():
    m = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30)
    members = m.partition.members(0)
    m.fix_block(0, members, torch.ones(len(members)), torch.zeros(len(members)), torch.ones(len(members)))
    mu, sigma, _ = m.moments()
    w = m.sample_weights(mu, sigma)
    assert torch.equal(w[members], torch.ones(len(members)))
    assert torch.equal(m.eval_weights()[members], torch.ones(len(members)))
