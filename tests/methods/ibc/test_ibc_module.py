"""Paper 001 objectives: each term equals its direct formula; phases and parameter groups."""
import pytest
import torch
import torch.nn.functional as F

from nncompress.core.errors import UserError
from nncompress.layers.vd import vd_layers
from nncompress.methods.ibc.family import build_module
from nncompress.models.lenet import LeNet300100

TERMS = {"vd": ["vd"], "sws": ["mixture"], "vd_sws": ["vd", "mixture"]}


def _module(mode, **settings):
    """The module of method=<mode> with the objective terms that method lists."""
    return build_module(LeNet300100(), 1000, TERMS[mode], settings)


def _batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 1, 28, 28, generator=g), torch.randint(0, 10, (32,), generator=g)


@pytest.mark.parametrize("mode", ["vd", "sws", "vd_sws"])
def test_objective_terms(mode):
    torch.manual_seed(0)
    m = _module(mode, tau2=0.5, phase1_steps=0)
    x, y = _batch()
    torch.manual_seed(1)
    loss, terms = m.objective(x, y)
    torch.manual_seed(1)
    ce = F.cross_entropy(m.net(x), y)
    assert torch.allclose(terms["ce"], ce)
    expected = ce
    if mode != "sws":
        kl = sum(layer.kl() for layer in vd_layers(m.net))
        assert torch.allclose(terms["kl_vd"], kl)
        expected = expected + kl / 1000
    if mode != "vd":
        gm = -m.mixture.log_prob(m.weights()).sum() - m.mixture.log_hyperprior()
        assert torch.allclose(terms["neg_log_gm"], gm)
        expected = expected + 0.5 * gm / 1000
    assert torch.allclose(loss, expected)


def test_vd_sws_phase_one_is_pure_vd():
    m = _module("vd_sws", phase1_steps=10)
    assert m.mixture_prior.weight(m.global_step) == 0.0 and m.mixture_prior.weight(10) == 2e-2
    _, terms = m.objective(*_batch())
    assert "neg_log_gm" not in terms
    # Its weights are quantised as VD's (k-means of the kept ones), not by the unfitted mixture.
    torch.manual_seed(0)
    vd = _module("vd")
    vd.net.load_state_dict(m.net.state_dict())
    for got, want in zip(m.quantised(vd_clusters=8), vd.quantised(vd_clusters=8)):
        for a, b in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
            assert torch.equal(a, b)
    assert m.nonzero_fraction() == vd.nonzero_fraction() and not m.clustering
    assert _module("vd_sws", phase1_steps=0).clustering and _module("sws").clustering


def test_parameter_groups_use_table3_rates():
    m = _module("vd_sws")
    lrs = sorted(g["lr"] for g in m.configure_optimizers().param_groups)
    assert lrs == sorted([5e-5, 1e-4, 1e-4, 1e-4, 3e-3])
    with pytest.raises(UserError, match="unknown term"):
        build_module(LeNet300100(), 1, ["l0"], {})


@pytest.mark.parametrize("mode", ["vd", "sws", "vd_sws"])
def test_quantised_net_evaluates_the_codebook_values(mode):
    """The validation-time copy computes with exactly the weights the file would hold."""
    torch.manual_seed(0)
    m = _module(mode)
    with torch.no_grad():
        for layer in vd_layers(m.net):
            layer.log_sigma2.uniform_(-12.0, 0.0)  # some weights past the drop threshold
    x, _ = _batch()
    indices, biases, codebook = m.quantised(vd_clusters=8)
    h = x.flatten(1)
    for i, (idx, b) in enumerate(zip(indices, biases)):
        h = F.linear(h, codebook[idx], b)
        h = F.relu(h) if i < len(indices) - 1 else h
    net = m.net_with(indices, codebook)
    assert torch.allclose(net(x), h, atol=1e-5)
    used = torch.cat([p.flatten() for n, p in net.named_parameters() if n.endswith(("theta", "weight"))])
    assert set(torch.unique(used).tolist()) <= set(codebook.tolist())


def test_linear_rate_decay_reaches_zero_at_the_last_step():
    """lr_decay_steps: every group's rate falls linearly to 0 (Molchanov et al.'s policy); 0 keeps
    Table 3's constant rates."""
    m = build_module(LeNet300100(), 1000, ["vd"], {"lr_theta": 1e-3, "lr_log_sigma2": 2e-3, "lr_decay_steps": 8})
    conf = m.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert conf["lr_scheduler"]["interval"] == "step"
    seen = []
    for _ in range(9):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert seen[0] == [1e-3, 2e-3] and seen[2] == pytest.approx([0.75e-3, 1.5e-3])
    assert seen[8] == [0.0, 0.0]
    constant = build_module(LeNet300100(), 1000, ["vd"], {}).configure_optimizers()
    assert isinstance(constant, torch.optim.Adam)
    # VD+SWS: the VD rates end at Table 3's for phase 2; the mixture's never change.
    m = _module("vd_sws", lr_theta=1e-3, lr_log_sigma2=1e-3, lr_decay_steps=4, lr_theta_final=5e-5,
                lr_log_sigma2_final=1e-4)
    conf = m.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    for _ in range(2):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([5.25e-4, 5.5e-4, 1e-4, 1e-4, 3e-3])
    for _ in range(5):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([5e-5, 1e-4, 1e-4, 1e-4, 3e-3])
    # Molchanov et al.'s policy: constant for the first half, then linearly to 0.
    m = build_module(LeNet300100(), 1000, ["vd"], {"lr_theta": 1e-3, "lr_log_sigma2": 1e-3, "lr_decay_steps": 8,
                                                   "lr_decay_start": 4})
    conf = m.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1e-3] * 5 + [0.75e-3, 0.5e-3, 0.25e-3, 0.0, 0.0])
