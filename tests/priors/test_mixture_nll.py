"""The mixture-prior NLL kernels (priors/mixture_nll.py) against a straightforward autograd
reference: value and gradients in w, means, log precisions and log mixing proportions, on random
inputs including extreme ones; float64 to 1e-9, float32 within the rounding of the old kernel."""
import math
import warnings

import pytest
import torch

from nncompress.priors import mixture, mixture_nll
from nncompress.priors.mixture import GaussianMixturePrior
from nncompress.priors.mixture_nll import MixtureNLL, moments_chunked, moments_unrolled, pick

EPS32 = torch.finfo(torch.float32).eps


def reference_nll(w, means, log_prec, log_mix):
    """−Σ_i log Σ_k π_k N(w_i | μ_k, 1/λ_k), written out and left to autograd."""
    log_comp = (0.5 * (log_prec - math.log(2 * math.pi)) + log_mix
                - 0.5 * log_prec.exp() * (w[:, None] - means) ** 2)
    return -torch.logsumexp(log_comp, dim=1).sum()


def _case(name, dtype=torch.float64, seed=0):
    """(w [N], means [K], log precisions [K], log proportions [K]), component 0 at zero."""
    g = torch.Generator().manual_seed(seed)
    k = 17 if name != "narrow" else 6
    delta = 2 * 0.05 / 17
    means = torch.cat([torch.zeros(1), (torch.arange(k - 1) - (k - 2) / 2) * delta * 1.1])
    log_prec = torch.full((k,), -2 * math.log(0.9 * delta)) + 0.5 * torch.randn(k, generator=g)
    log_mix = torch.log_softmax(torch.randn(k, generator=g), 0)
    w = torch.randn(3000, generator=g) * 0.05
    if name == "far":  # weights hundreds of standard deviations from every component
        w[:100] = torch.linspace(-100, 100, 100)
        w[100:200] = 0.3 + torch.rand(100, generator=g)
    elif name == "narrow":  # one component of width ~1e-5, weights on and right beside it
        log_prec[3] = 23.0
        w[:500] = means[3] + torch.randn(500, generator=g) * 1e-5
    elif name == "overlap":  # Ullrich et al.'s init: wide components over the weights' range
        means[1:] = torch.linspace(-0.4, 0.3, k - 1)
        log_prec[:] = -2 * math.log(0.25)
    # the inputs are float32 numbers in every dtype, so float32 and float64 runs see the same ones
    return tuple(t.float().to(dtype) for t in (w, means, log_prec, log_mix))


def _value_and_grads(fn, inputs):
    args = [t.clone().requires_grad_() for t in inputs]
    value = fn(*args)
    return (value.detach(), *torch.autograd.grad(value, args))


def _kernel(moments):
    return lambda *args: MixtureNLL.apply(*args, moments)


KERNELS = {"chunked": lambda *a: moments_chunked(*a, chunk=700), "unrolled": moments_unrolled}
CASES = ["table3", "far", "narrow", "overlap"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_float64_value_and_gradients_equal_the_reference(kernel, case):
    inputs = _case(case)
    got = _value_and_grads(_kernel(KERNELS[kernel]), inputs)
    want = _value_and_grads(reference_nll, inputs)
    for name, a, b in zip(["value", "w", "means", "log_prec", "log_mix"], got, want):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9 * float(b.abs().max())), name


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_float32_within_the_rounding_of_the_old_kernel(kernel, case):
    """Error against float64, per output, no more than the old chunked kernel's at the old block
    size (65536) plus a few float32 ulps of the output's scale."""
    want = _value_and_grads(reference_nll, _case(case))
    inputs = _case(case, torch.float32)
    got = _value_and_grads(_kernel(KERNELS[kernel]), inputs)
    old = _value_and_grads(_kernel(lambda *a: moments_chunked(*a, chunk=65536)), inputs)
    for name, a, o, b in zip(["value", "w", "means", "log_prec", "log_mix"], got, old, want):
        scale = float(b.abs().max())
        err, err_old = float((a.double() - b).abs().max()), float((o.double() - b).abs().max())
        assert err <= 2 * err_old + 8 * EPS32 * scale, (name, err, err_old, scale)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_gradcheck_of_the_hand_written_backward(kernel):
    g = torch.Generator().manual_seed(1)
    inputs = (torch.randn(40, generator=g, dtype=torch.float64) * 0.5,
              torch.tensor([0.0, -0.6, 0.4, 1.0], dtype=torch.float64),
              torch.randn(4, generator=g, dtype=torch.float64),
              torch.log_softmax(torch.randn(4, generator=g, dtype=torch.float64), 0))
    args = [t.clone().requires_grad_() for t in inputs]
    assert torch.autograd.gradcheck(_kernel(KERNELS[kernel]), args)


@pytest.mark.slow
def test_compiled_kernel_equals_the_eager_one():
    """The torch.compile'd kernel itself (skipped where this machine cannot compile; slow: the
    compile takes 30 s to minutes on a busy 2-core machine)."""
    inputs = _case("far", torch.float32)[:1] + tuple(t[:5] for t in _case("far", torch.float32)[1:])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        got = _value_and_grads(_kernel(pick("compiled")), inputs)
    if mixture_nll.COMPILED.failed:
        pytest.skip(reason=f"torch.compile unavailable here: {mixture_nll.COMPILED.failed}")
    want = _value_and_grads(_kernel(moments_unrolled), inputs)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max()))


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def no_compiler(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(mixture_nll, "COMPILED", mixture_nll._Compiled())
    monkeypatch.setattr(torch, "compile", no_compiler)
    inputs = _case("table3", torch.float32)
    with pytest.warns(RuntimeWarning, match=r"no C\+\+ compiler"):
        got = _value_and_grads(_kernel(pick("compiled")), inputs)
    want = _value_and_grads(_kernel(pick("eager")), inputs)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert "no C++ compiler" in mixture_nll.COMPILED.failed


def test_auto_compiles_only_large_priors_after_many_calls(monkeypatch):
    monkeypatch.delenv(mixture.KERNEL_ENV, raising=False)
    prior = GaussianMixturePrior(torch.randn(100) * 0.05, n_components=5)
    big = mixture.MIN_PAIRS
    kernels = [prior.choose_kernel(big) for _ in range(mixture.COMPILE_AFTER + 2)]
    assert kernels == ["eager"] * mixture.COMPILE_AFTER + ["compiled"] * 2
    assert prior.choose_kernel(big - 1) == "eager"  # a small prior never pays for a compile
    assert prior.choose_kernel(big, kernel="eager") == "eager"
    monkeypatch.setenv(mixture.KERNEL_ENV, "eager")
    assert prior.choose_kernel(big) == "eager"
    with pytest.raises(ValueError, match="unknown mixture kernel"):
        GaussianMixturePrior(torch.randn(100), kernel="fast")


def test_prior_gives_the_same_numbers_with_either_kernel():
    torch.manual_seed(0)
    w = (torch.randn(5000) * 0.05).requires_grad_()
    prior = GaussianMixturePrior(w.detach(), n_components=17)
    params = [w, prior.means, prior.log_precisions, prior.log_mix]
    eager = torch.autograd.grad(prior.neg_log_likelihood(w, kernel="eager"), params)
    unrolled = torch.autograd.grad(MixtureNLL.apply(
        w, torch.cat([prior.means.new_zeros(1), prior.means]), prior.log_precisions,
        prior.log_proportions(), moments_unrolled), params)
    for a, b in zip(eager, unrolled):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * float(b.abs().max()))
