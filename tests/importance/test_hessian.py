"""Hessian diagonals against the full autograd Hessian: Gauss-Newton exact (equal to the Hessian for
softmax regression, to Jᵀ H_out J for a tanh MLP), curvature propagation and Hutchinson unbiased
(their mean over many fixed-seed draws within 4.5 standard errors of the exact diagonal, and far
from the Gauss-Newton one where the two differ), and the quartic term ¼ E[(∂²L/∂w²)²]."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.functional import hessian, jacobian
from torch.func import functional_call

from nncompress.importance import HESSIAN_ESTIMATORS, estimate_importance, target_layers

T = 1.7


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tanh_mlp():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double().eval()


def data(n, d=3, classes=3, seed=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * 1.5, torch.randint(0, classes, (n,), generator=g)


def loss_of(model, name, x, y):
    def loss(w):
        z = functional_call(model, {name: w}, (x,))
        return F.cross_entropy(z / T, y)
    return loss


def exact_diagonal(model, x, y, per_sample=False):
    """diag of the autograd Hessian of the mean loss (or of every sample's loss: (N, *W))."""
    out = {}
    for name in target_layers(model):
        w = dict(model.named_parameters())[name].detach()
        rows = [(x, y)] if not per_sample else [(x[n:n + 1], y[n:n + 1]) for n in range(x.shape[0])]
        diags = [hessian(loss_of(model, name, xr, yr), w).reshape(w.numel(), w.numel()).diagonal().reshape(w.shape)
                 for xr, yr in rows]
        out[name] = torch.stack(diags) if per_sample else diags[0]
    return out


def gauss_newton_brute(model, x, per_sample=False):
    """(1/N) Σ_n diag(J_nᵀ H_out J_n), H_out = (diag f − f fᵀ)/T², J_n = ∂z_n/∂w by autograd."""
    out = {}
    for name in target_layers(model):
        w = dict(model.named_parameters())[name].detach()
        diags = []
        for n in range(x.shape[0]):
            z = functional_call(model, {name: w}, (x[n:n + 1],))[0]
            f = torch.softmax(z / T, -1)
            h_out = (torch.diag(f) - torch.outer(f, f)) / T ** 2
            jac = jacobian(lambda v, n=n, name=name: functional_call(model, {name: v}, (x[n:n + 1],))[0], w)
            jac = jac.reshape(3, -1)
            diags.append((jac.T @ h_out @ jac).diagonal().reshape(w.shape))
        out[name] = torch.stack(diags) if per_sample else torch.stack(diags).mean(0)
    return out


def test_gauss_newton_is_the_exact_hessian_of_softmax_regression_plus_mu():
    torch.manual_seed(5)
    model = nn.Linear(5, 4).double()
    x, y = data(9, d=5, classes=4)
    exact = exact_diagonal(model, x, y)["weight"]
    got = estimate_importance("hessian", model, [(x, y)], hessian_estimator="gauss_newton",
                              temperature=T, mu=0.3)
    torch.testing.assert_close(got.first["weight"] - 0.3, exact, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("closed_form", [True, False], ids=["closed", "generic"])
def test_gauss_newton_equals_brute_force_jt_h_j_on_tanh_mlp(closed_form):
    model = tanh_mlp()
    x, y = data(6)
    brute = gauss_newton_brute(model, x, per_sample=True)
    got = estimate_importance("hessian", model, [(x, y)], hessian_estimator="gauss_newton",
                              temperature=T, closed_form=closed_form)
    both = estimate_importance("grad_hessian", model, [(x, y)], hessian_estimator="gauss_newton",
                               temperature=T, closed_form=closed_form)
    exact = exact_diagonal(model, x, y)
    for k, b in brute.items():
        torch.testing.assert_close(got.first[k], b.mean(0), rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(both.quartic[k], (b ** 2).mean(0) / 4, rtol=1e-10, atol=1e-16)
    assert not torch.allclose(exact["0.weight"], brute["0.weight"].mean(0), rtol=1e-3)  # tanh curvature


def draws(estimator, model, x, y, n_calls, replicas, second=False):
    """n_calls independent estimates, each the mean of N·replicas per-sample draws (unclamped)."""
    layers = target_layers(model)
    xr, yr = x.repeat(replicas, 1), y.repeat(replicas)
    gen = torch.Generator().manual_seed(11)
    first = {k: [] for k in layers}
    fourth = {k: [] for k in layers}
    for _ in range(n_calls):
        out = HESSIAN_ESTIMATORS[estimator](model, layers, xr, yr, temperature=T, second=second,
                                            generator=gen)
        for k, (s, s2) in out.items():
            first[k].append(s / xr.shape[0])
            if second:
                fourth[k].append(s2 / xr.shape[0])
    pick = fourth if second else first
    return {k: torch.stack(v) for k, v in pick.items()}


def z_scores(samples, target):
    mean, se = samples.mean(0), samples.std(0) / samples.shape[0] ** 0.5
    return (mean - target) / se.clamp_min(1e-300), se


@pytest.mark.parametrize("estimator", ["curvature_propagation", "hutchinson"])
def test_stochastic_diagonals_are_unbiased(estimator):
    model = tanh_mlp()
    x, y = data(3)
    exact, gn = exact_diagonal(model, x, y), gauss_newton_brute(model, x)
    samples = draws(estimator, model, x, y, n_calls=100, replicas=60)
    power = 0.0
    for k in exact:
        z, se = z_scores(samples[k], exact[k])
        assert z.abs().max() < 4.5, (k, z)
        power = max(power, ((samples[k].mean(0) - gn[k]).abs() / se).max().item())
    assert power > 8  # the test can tell the Hessian from its Gauss-Newton part


@pytest.mark.parametrize("estimator", ["curvature_propagation", "hutchinson"])
def test_stochastic_quartic_term_is_unbiased(estimator):
    model = tanh_mlp()
    x, y = data(3)
    per_sample = exact_diagonal(model, x, y, per_sample=True)
    samples = draws(estimator, model, x, y, n_calls=80, replicas=50, second=True)
    for k, h in per_sample.items():
        z, _ = z_scores(samples[k], (h ** 2).mean(0))
        assert z.abs().max() < 4.5, (k, z)


def test_curvature_propagation_closed_form_and_generic_paths_agree():
    model = tanh_mlp()
    x, y = data(5)
    a, b = (estimate_importance("grad_hessian", model, [(x, y)], temperature=T, seed=7, closed_form=c)
            for c in (True, False))
    for k in a.first:
        torch.testing.assert_close(a.quartic[k], b.quartic[k], rtol=1e-10, atol=1e-16)


def test_curvature_propagation_on_relu_net_is_nonnegative_and_refuses_unknown_modules():
    torch.manual_seed(0)
    relu = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    x, y = data(8)
    imp = estimate_importance("hessian", relu, [(x, y)], temperature=T)
    assert all((v >= 0).all() for v in imp.first.values())
    norm = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 3)).double()
    with pytest.raises(ValueError, match="LayerNorm"):
        estimate_importance("hessian", norm, [(x, y)])


def test_gauss_newton_is_the_fisher_score_on_a_conv_bn_net():
    """For the softmax cross-entropy, Gauss-Newton and the Fisher score of eq. (6) coincide; the
    ReLU/max-pool/BatchNorm net also exercises the generic (torch.func) path of Conv2d."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, affine=False), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4)).double()
    model[1].running_var.fill_(0.7)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 2, 6, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (6,), generator=g)
    gn = estimate_importance("hessian", model, [(x, y)], hessian_estimator="gauss_newton", temperature=T)
    fisher = estimate_importance("fisher", model, [(x, y)], temperature=T)
    cp = estimate_importance("grad_hessian", model, [(x, y)], temperature=T)
    for k in gn.first:
        torch.testing.assert_close(gn.first[k], fisher.first[k], rtol=1e-12, atol=0)
        assert (cp.quartic[k] >= 0).all() and cp.quartic[k].abs().sum() > 0
