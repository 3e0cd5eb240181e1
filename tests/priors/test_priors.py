"""Sparse-VD KL approximation and the mixture prior against direct formulas."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from nncompress.priors.logunif import kl_log_uniform, log_alpha
from nncompress.priors.mixture import GaussianMixturePrior


def _true_neg_kl_up_to_constant(la):
    """−KL(N(θ, αθ²) || 1/|w|) + const = 0.5 log α − E_{ε~N(0,1)} log|1 + √α ε|  (θ-free)."""
    a = math.exp(la)
    f = lambda e: math.log(abs(1 + math.sqrt(a) * e) + 1e-300) * stats.norm.pdf(e)
    pole = -1 / math.sqrt(a)
    expectation = (integrate.quad(f, -12, pole, limit=400)[0] + integrate.quad(f, pole, 12, limit=400)[0])
    return 0.5 * la - expectation


def test_kl_approximation_matches_numerical_integration():
    grid = [-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0]
    approx = -kl_log_uniform(torch.tensor(grid, dtype=torch.float64)).numpy()
    true = np.array([_true_neg_kl_up_to_constant(la) for la in grid])
    # The fit holds up to an additive constant (≈ −k1 at log α → −∞): compare after centring.
    diff = approx - true
    assert np.ptp(diff) < 0.02, diff


def test_kl_limits_and_clip():
    assert kl_log_uniform(torch.tensor(8.0)).item() == pytest.approx(0.0, abs=1e-3)  # α → ∞: no information
    assert kl_log_uniform(torch.tensor(-8.0)).item() > kl_log_uniform(torch.tensor(0.0)).item()
    la = log_alpha(torch.tensor([1e-3, 1.0]), torch.tensor([10.0, -30.0]))
    assert la.tolist() == [8.0, -8.0]


def test_mixture_log_density_matches_direct_formula():
    torch.manual_seed(0)
    w = torch.randn(1000) * 0.1
    prior = GaussianMixturePrior(w, n_components=5)
    means, prec, mix = (t.detach().numpy() for t in prior.components())
    assert means[0] == 0 and mix[0] == pytest.approx(0.999) and mix.sum() == pytest.approx(1.0)
    x = np.linspace(-0.3, 0.3, 7)
    direct = np.log(sum(mix[k] * stats.norm.pdf(x, means[k], 1 / np.sqrt(prec[k])) for k in range(5)))
    assert np.allclose(prior.log_prob(torch.tensor(x, dtype=torch.float32)).detach().numpy(), direct, atol=1e-4)


def test_paper_initialisation_and_hyperprior():
    w = torch.randn(10000) * 0.05
    prior = GaussianMixturePrior(w, n_components=17)
    delta = 2 * float(w.std()) / 17
    means, prec, _ = prior.components()
    assert torch.allclose(means.sort().values, (torch.arange(17) - 8).float() * delta, atol=1e-7)
    assert torch.allclose(prec, torch.full((17,), (0.9 * delta) ** -2), rtol=1e-5)
    lam = prec.detach().double().numpy()
    direct = stats.gamma(a=1e5, scale=1 / 10).logpdf(lam).sum()
    assert prior.log_hyperprior().item() == pytest.approx(direct, rel=1e-6)  # Gamma density in λ


def test_quantise_picks_the_most_responsible_mean():
    prior = GaussianMixturePrior(torch.randn(100) * 0.1, n_components=3)
    values, idx = prior.quantise(torch.tensor([0.0, 1e-4]))
    assert values.tolist() == [0.0, 0.0] and idx.tolist() == [0, 0]


@pytest.mark.parametrize("chunk", [7, 1000, 4096])
def test_fused_mixture_nll_matches_autograd_of_the_density(chunk):
    """neg_log_likelihood's value and hand-written gradients equal autograd through log_prob (float64)."""
    torch.manual_seed(0)
    w0 = torch.randn(2500, dtype=torch.float64) * 0.05
    prior = GaussianMixturePrior(w0.float(), n_components=7).double()
    with torch.no_grad():  # move the mixture off its symmetric initialisation
        prior.means.add_(torch.randn(6, dtype=torch.float64) * 0.01)
        prior.log_precisions.add_(torch.randn(7, dtype=torch.float64))
        prior.log_mix.add_(torch.randn(6, dtype=torch.float64))
    params = [prior.means, prior.log_precisions, prior.log_mix]

    def grads(loss_fn):
        w = w0.clone().requires_grad_()
        loss = loss_fn(w)
        return (loss.detach(), *torch.autograd.grad(loss, [w, *params]))

    fused = grads(lambda w: prior.neg_log_likelihood(w, chunk=chunk))
    direct = grads(lambda w: -prior.log_prob(w).sum())
    for got, want in zip(fused, direct):
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_zero_component_hyperprior_of_its_own():
    w = torch.randn(1000) * 0.05
    prior = GaussianMixturePrior(w, n_components=5, gamma_alpha=250.0, gamma_beta=0.1,
                                 gamma_alpha_zero=5000.0, gamma_beta_zero=2.0)
    lam = prior.log_precisions.exp().detach().double().numpy()
    direct = stats.gamma(a=5000, scale=1 / 2).logpdf(lam[0]) + stats.gamma(a=250, scale=1 / 0.1).logpdf(lam[1:]).sum()
    assert prior.log_hyperprior().item() == pytest.approx(direct, rel=1e-6)


def test_range_initialisation_of_soft_weight_sharing():
    w = torch.cat([torch.randn(1000) * 0.05, torch.tensor([-0.4, 0.3])])
    prior = GaussianMixturePrior(w, n_components=17, init="range", init_sigma=0.25)
    means, prec, mix = (t.detach() for t in prior.components())
    assert torch.allclose(means[1:], torch.linspace(-0.4, 0.3, 16))
    assert torch.allclose(prec, torch.full((17,), 16.0))
    assert mix[0] == pytest.approx(0.999) and torch.allclose(mix[1:], torch.full((16,), 0.001 / 16))
    with pytest.raises(ValueError, match="unknown mixture init"):
        GaussianMixturePrior(w, init="kmeans")
