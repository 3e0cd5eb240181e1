"""MIRACLE objectives and the KL annealing rule of paper 000."""
import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from nncompress.methods.mkl.coded import CodedBlocks
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
    m.anneal_beta()  # training: every block anneals
    assert torch.allclose(m.beta[::2], torch.tensor(1e-8 * (1 + 5e-5)))
    assert torch.allclose(m.beta[1::2], torch.tensor(1e-8 / (1 + 5e-5)))
    m.beta.fill_(1e-8)
    coded = CodedBlocks(m.network.n_coded, nb)
    coded.done[0] = True  # coding: a coded block keeps its beta
    m.anneal_beta(coded)
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
    torch.manual_seed(0)
    m = MiracleModule(CodedNetwork(TINY), "meanvar", block_size=30)
    coded = CodedBlocks(m.network.n_coded, m.partition.n_blocks)
    members = m.partition.members(0)
    coded.fix(0, members, torch.ones(len(members)), torch.zeros(len(members)), torch.ones(len(members)))
    mu, sigma, _ = m.moments()
    w = m.sample_weights(mu, sigma, coded=coded)
    assert torch.equal(w[members], torch.ones(len(members)))
    free = torch.ones(m.network.n_coded, dtype=torch.bool)
    free[members] = False
    assert not torch.equal(w[free], mu[free])  # the rest is sampled
    # the done block leaves Mean-Var's sum over blocks; the module itself never changes
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    loss, ce, kl_b = m.objective(x, y, generator=torch.Generator().manual_seed(1), coded=coded)
    assert torch.allclose(loss, ce + (m.beta * kl_b)[1:].sum())
    assert torch.equal(m.eval_weights(), mu)


def test_budget_warmup_schedule():
    m = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, budget_warmup_factor=8.0, budget_warmup_steps=1000)
    assert m.budget_scale_at(0) == 8.0
    assert math.isclose(m.budget_scale_at(500), math.sqrt(8.0))
    assert math.isclose(m.budget_scale_at(750), 8.0 ** 0.25)
    assert m.budget_scale_at(1000) == 1.0 and m.budget_scale_at(3000) == 1.0
    paper = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30)
    assert paper.budget_scale_at(0) == 1.0 and paper.budget_scale == 1.0


def test_budget_warmup_kl_at_step_0_and_at_coding():
    torch.manual_seed(0)
    net = CodedNetwork(TINY)
    m = MiracleModule(net, "meankl", block_size=30, budget_warmup_factor=8.0, budget_warmup_steps=1000)
    kl_bits = m.block_kl(*m.moments()) / math.log(2)
    assert torch.allclose(kl_bits, torch.full_like(kl_bits, 160.0), rtol=2e-3)  # 8 x 20 bits at step 0
    # tau inverts eq. 6 at the step-0 budget: the means are the network's default initialisation.
    mu, _, _ = m.moments()
    assert torch.allclose(mu, net.init_vector(), atol=1e-5)
    m.eval()  # evaluation and coding see the paper's budget
    kl_bits = m.block_kl(*m.moments()) / math.log(2)
    assert torch.allclose(kl_bits, torch.full_like(kl_bits, 20.0), rtol=2e-3)
    fresh = MiracleModule(net, "meankl", block_size=30, budget_warmup_factor=8.0, budget_warmup_steps=1000)
    fresh.eval()  # evaluated without a step in this process (trained_from, a resumed export): C_block
    kl_bits = fresh.block_kl(*fresh.moments()) / math.log(2)
    assert torch.allclose(kl_bits, torch.full_like(kl_bits, 20.0), rtol=2e-3)
    fresh.train()  # the coder asks for C_block whatever the mode (fine-tuning trains between blocks)
    kl_bits = fresh.block_kl(*fresh.moments(budget_scale=1.0)) / math.log(2)
    assert torch.allclose(kl_bits, torch.full_like(kl_bits, 20.0), rtol=2e-3)


def test_budget_scale_follows_the_trainers_step_while_training():
    m = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, budget_warmup_factor=8.0, budget_warmup_steps=1000)
    m._trainer = SimpleNamespace(global_step=500)  # what Lightning's global_step reads (restored on resume)
    assert math.isclose(m.budget_scale, math.sqrt(8.0))
    kl_bits = m.block_kl(*m.moments()) / math.log(2)
    assert torch.allclose(kl_bits, torch.full_like(kl_bits, 20.0 * math.sqrt(8.0)), rtol=2e-3)
    m.eval()  # validation inside fit, and everything after it: C_block
    assert m.budget_scale == 1.0
    m.train()
    m._trainer = SimpleNamespace(global_step=1000)
    assert m.budget_scale == 1.0


def test_budget_warmup_config_per_scale():
    from helpers import compose_cfg
    from nncompress.methods.base import BuildContext, get_family

    paper = compose_cfg(["method=meankl"]).method.budget_warmup
    quick = compose_cfg(["method=meankl", "scale=quick"]).method.budget_warmup
    assert (paper.factor, paper.steps) == (1.0, 0)  # the paper: C_block from step 0
    assert (quick.factor, quick.steps) == (8.0, 1000)
    cfg = compose_cfg(["method=meankl", "scale=quick", "model=lenet5_hashed", "coding=mrc"], hydra=False)
    ctx = BuildContext(dm=None, network=CodedNetwork(TINY), run_dir=None, loggers=[], init_from=None)
    m = get_family("mkl").build(cfg, ctx)
    assert (m.budget_warmup_factor, m.budget_warmup_steps, m.budget_scale) == (8.0, 1000, 8.0)
    assert m.lr_gamma_factor == 10.0 and compose_cfg(["method=meankl"]).method.lr_gamma_factor == 1.0
    assert (m.lr_decay_start, m.lr_decay_steps, m.lr_final_factor) == (0, 0, 1.0)  # off: the paper's constant rate
    cfg = compose_cfg(["method=meankl", "scale=quick", "model=lenet5_hashed", "coding=mrc",
                       "method.lr_decay={start: 1500, steps: 3000, final: 0.0}"], hydra=False)
    m = get_family("mkl").build(cfg, ctx)
    assert (m.lr_decay_start, m.lr_decay_steps, m.lr_final_factor) == (1500, 3000, 0.0)


def test_quota_rate_and_linear_decay():
    """lr_gamma_factor scales the rate of Mean-KL's quota logits alone; lr_decay holds every rate
    until its start, then falls linearly to lr_final_factor x the rate; the defaults are the
    paper's single constant rate."""
    import pytest

    m = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, lr=2e-3, lr_gamma_factor=5.0,
                      lr_decay_start=2, lr_decay_steps=6, lr_final_factor=0.25)
    conf = m.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert opt.param_groups[1]["params"] == [m.posterior.gamma]
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(
        p.numel() for p in m.trainable_parameters())
    seen = []
    for _ in range(8):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert seen[0] == seen[2] == [2e-3, 1e-2]
    assert seen[4] == pytest.approx([2e-3 * 0.625, 1e-2 * 0.625])  # half way: (1 + 0.25) / 2
    assert seen[6] == seen[7] == pytest.approx([5e-4, 2.5e-3])
    plain = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, lr=2e-3).configure_optimizers()
    assert isinstance(plain, torch.optim.Adam) and [g["lr"] for g in plain.param_groups] == [2e-3, 2e-3]
    with pytest.raises(ValueError, match="Mean-KL option"):
        MiracleModule(CodedNetwork(TINY), "meanvar", block_size=30, lr_gamma_factor=2.0)
    with pytest.raises(ValueError, match="lr_decay_start <= lr_decay_steps"):
        MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, lr_decay_start=5, lr_decay_steps=3)


def test_bad_rate_settings_are_refused_before_any_work():
    """Family.check turns the module's own checks into one-line UserErrors that name the keys."""
    import pytest

    from helpers import compose_cfg
    from nncompress.core.errors import UserError
    from nncompress.methods.base import get_family

    family = get_family("mkl")
    family.check(compose_cfg(["method=meankl", "scale=quick"], hydra=False))  # the defaults pass
    for override, match in [("method.lr_gamma_factor=0", "lr_gamma_factor > 0"),
                            ("method.lr_decay={start: 9, steps: 3, final: 0.0}", "lr_decay_start <= lr_decay_steps"),
                            ("method.budget_warmup={factor: 0.5, steps: 10}", "factor >= 1")]:
        with pytest.raises(UserError, match=match) as err:
            family.check(compose_cfg(["method=meankl", "scale=quick", override], hydra=False))
        assert "\n" not in str(err.value) and str(err.value).startswith("method (")


def test_block_moments_equal_the_full_moments_of_the_block():
    """The encoder's O(block) path: one block's (mu, sigma, rho) as the whole vector's gives them
    (Mean-KL's quotas are a softmax within the block), for full and short blocks."""
    for posterior in ("meankl", "meanvar"):
        m = MiracleModule(CodedNetwork(ArchSpec("lenet300_100", {}, 1, 10, 28)), posterior=posterior, block_size=37,
                          partition_seed=3)
        with torch.no_grad():
            m.posterior.gamma.normal_() if posterior == "meankl" else m.posterior.log_sigma.normal_(-3, 1)
        mu, sigma, rho = m.moments(budget_scale=1.0)
        for b in (0, 5, m.partition.n_blocks - 1):
            members = m.partition.members(b)
            got = m.block_moments(members, budget_scale=1.0)
            for full, part in zip((mu, sigma, rho), got):
                torch.testing.assert_close(part, full[members], rtol=1e-6, atol=0)
