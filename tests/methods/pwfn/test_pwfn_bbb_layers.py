"""Bayes-by-backprop layers: conversion, sampling, fixing that survives training, the sigma push."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nncompress.layers.bayes_by_backprop import BBBConv2d, BBBLinear, bayesian_layers, posterior_means, to_bayesian
from nncompress.methods.pwfn.fixing import fix_layers, gather_posteriors
from nncompress.methods.pwfn.metrics import unique_values, unique_values_per_tensor
from nncompress.methods.pwfn.schedule import sigma_push_loss
from nncompress.methods.pwfn.sigma_init import init_sigma


@pytest.mark.parametrize("padding_mode", ["reflect", "circular", "replicate", "zeros"])
def test_grouped_dilated_padded_conv_matches_nn_conv2d_at_evaluation(padding_mode):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, padding_mode=padding_mode)
    layer = BBBConv2d.from_conv(conv, sigma_init=0.1).eval()
    x = torch.randn(2, 4, 9, 9)
    assert torch.equal(layer(x), conv(x))
    assert (layer.groups, layer.dilation, layer.padding_mode) == (2, (2, 2), padding_mode)


def test_same_padding_conv_and_linear_match_at_evaluation():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, (3, 2), padding="same", padding_mode="reflect", bias=False)
    x = torch.randn(1, 3, 7, 7)
    assert torch.equal(BBBConv2d.from_conv(conv, sigma_init=0.1).eval()(x), conv(x))
    linear = nn.Linear(7, 3)
    y = torch.randn(4, 7)
    assert torch.equal(BBBLinear.from_linear(linear, sigma_init=0.1).eval()(y), linear(y))


def test_one_reparameterised_sample_per_forward_and_gradients_of_eq5():
    torch.manual_seed(0)
    layer = BBBLinear.from_linear(nn.Linear(5, 3), sigma_init=0.2)
    x = torch.randn(8, 5)
    out = layer(x)
    eps_w, eps_b = layer.last_eps["weight"], layer.last_eps["bias"]
    assert torch.allclose(out, F.linear(x, layer.weight_mu + 0.2 * eps_w, layer.bias_mu + 0.2 * eps_b))
    out.sum().backward()
    # dw/dmu = 1, dw/dsigma = eps
    assert torch.allclose(layer.weight_sigma.grad, layer.weight_mu.grad * eps_w)
    assert torch.allclose(layer.bias_sigma.grad, layer.bias_mu.grad * eps_b)
    layer(x)
    assert not torch.equal(layer.last_eps["weight"], eps_w)  # a fresh draw per forward
    kept = layer.last_eps["weight"]
    layer.eval()
    assert torch.equal(layer(x), F.linear(x, layer.weight_mu, layer.bias_mu))
    assert layer.last_eps["weight"] is kept  # evaluation draws nothing


def test_to_bayesian_swaps_linear_and_conv_keeps_norm_and_sharing():
    shared = nn.Linear(4, 4)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 4), shared,
                        nn.Sequential(shared, nn.ReLU()))
    x = torch.randn(3, 1, 4, 4)
    net.eval()
    reference = net(x)
    to_bayesian(net, sigma_init=init_sigma)
    assert isinstance(net[1], nn.BatchNorm2d) and not isinstance(net[1], (BBBLinear, BBBConv2d))
    assert net[4] is net[5][0] and isinstance(net[4], BBBLinear)
    assert [name for name, _ in bayesian_layers(net)] == ["0", "3", "4"]
    assert torch.equal(net(x), reference)
    assert torch.equal(net[0].weight_sigma, init_sigma(net[0].weight_mu.detach()))


def small_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, groups=2, padding=1, padding_mode="reflect"), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    return to_bayesian(net, sigma_init=init_sigma)


def test_fixed_weights_are_bit_identical_after_sgd_with_momentum_decay_and_clipping():
    net = small_net()
    layers = [layer for _, layer in bayesian_layers(net)]
    report = fix_layers(layers, 0.5)
    _, _, fixed = gather_posteriors(layers)
    assert int(fixed.sum()) == report.target == -(-fixed.numel() // 2)
    before = {(id(layer), n): (layer.mean(n).detach().clone(), layer.std(n).detach().clone())
              for layer in layers for n in layer.posterior_names}
    free_before = torch.cat([layer.mu(n).detach().flatten().clone() for layer in layers for n in layer.posterior_names])

    optimiser = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = torch.randn(16, 2, 5, 5), torch.randint(0, 3, (16,))
    net.train()
    for _ in range(5):
        optimiser.zero_grad()
        loss = F.cross_entropy(net(x), y) + sigma_push_loss(layers, alpha=2.0**-11)
        loss.backward()
        for layer in layers:
            for name in layer.posterior_names:  # the hook: no gradient at all at fixed entries
                assert not layer.mu(name).grad[layer.fixed(name)].any()
                assert not layer.sigma(name).grad[layer.fixed(name)].any()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()

    drifted = False
    for layer in layers:
        for name in layer.posterior_names:
            mask = layer.fixed(name)
            mean_before, std_before = before[(id(layer), name)]
            assert torch.equal(layer.mean(name)[mask], mean_before[mask])
            assert torch.equal(layer.std(name)[mask], std_before[mask])
            raw = layer.mu(name).detach()[mask]
            drifted |= not torch.equal(raw, mean_before[mask])  # weight decay moved the parameter ...
    assert drifted  # ... which the forward never reads
    free_after = torch.cat([layer.mu(n).detach().flatten() for layer in layers for n in layer.posterior_names])
    assert not torch.equal(free_after[~fixed], free_before[~fixed])  # the free weights did train
    for layer in layers:
        layer.sync_fixed_()
        for name in layer.posterior_names:
            mask = layer.fixed(name)
            assert torch.equal(layer.mu(name).detach()[mask], before[(id(layer), name)][0][mask])


def test_fully_fixed_layer_has_no_noise_and_a_deepcopy_keeps_the_gradient_block():
    layer = BBBLinear.from_linear(nn.Linear(4, 2), sigma_init=0.3)
    fix_layers([layer], 1.0)
    x = torch.randn(5, 4)
    train_out = layer.train()(x)
    assert torch.equal(train_out, layer.eval()(x))
    clone = copy.deepcopy(layer).train()  # deepcopy drops tensor hooks; the copy re-arms its own
    (clone(x).sum() + clone.weight_mu.sum()).backward()  # a loss term on the raw parameter too
    assert not clone.weight_mu.grad.any()


def test_sigma_push_gradient_is_minus_alpha_relu_gap_times_abs_eps():
    layer = BBBLinear(torch.zeros(2, 3), torch.zeros(2), sigma_init=0.0)
    with torch.no_grad():
        layer.weight_sigma.copy_(torch.tensor([[0.01, 0.06, 0.05], [0.0, 0.03, -0.01]]))
        layer.bias_sigma.copy_(torch.tensor([0.02, 0.1]))
    layer.fixed("weight")[1, 1] = True
    layer.train()(torch.randn(4, 3))
    alpha, gamma = 2.0**-5, 0.05
    loss = sigma_push_loss([layer], alpha, gamma)
    eps = layer.last_eps["weight"].abs()
    gap = torch.tensor([[0.04, 0.0, 0.0], [0.05, 0.02, 0.06]])
    gap[1, 1] = 0.0  # fixed: left out
    bias_gap = torch.tensor([0.03, 0.0])
    expected = 0.5 * alpha * ((eps * gap**2).sum() + (layer.last_eps["bias"].abs() * bias_gap**2).sum())
    assert torch.allclose(loss, expected, rtol=1e-5)
    loss.backward()
    assert torch.allclose(layer.weight_sigma.grad, -alpha * gap * eps, rtol=1e-5, atol=1e-12)
    assert torch.allclose(layer.bias_sigma.grad, -alpha * bias_gap * layer.last_eps["bias"].abs(), rtol=1e-5)
    with_fixed = sigma_push_loss([layer], alpha, gamma, include_fixed=True)
    assert torch.allclose(with_fixed - loss, 0.5 * alpha * eps[1, 1] * 0.02**2, rtol=1e-4)


def test_sigma_push_rejects_bad_input():
    layer = BBBLinear(torch.zeros(2, 3), None, sigma_init=0.01)
    with pytest.raises(ValueError, match="training forward"):
        sigma_push_loss([layer])
    layer.train()(torch.randn(1, 3))
    with pytest.raises(ValueError, match="alpha"):
        sigma_push_loss([layer], alpha=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        sigma_push_loss([layer], gamma=-0.05)


def test_schedule_through_layers_ends_with_few_unique_values_and_public_variant_unfixes():
    net = small_net()
    layers = [layer for _, layer in bayesian_layers(net)]
    n = sum(layer.mu(name).numel() for layer in layers for name in layer.posterior_names)  # 4*1*3*3 + 4 + 100*3 + 3
    assert n == 343
    for p, target in [(0.2, 69), (0.6, 206), (1.0, 343)]:
        assert fix_layers(layers, p).fixed_after == target
    means = posterior_means(net)
    assert unique_values([t for ts in means.values() for t in ts]) <= 2 * 193 + 1
    assert set(unique_values_per_tensor(means)) == {"0", "3"}
    x = torch.randn(2, 2, 5, 5)
    assert torch.equal(net.train()(x), net.eval()(x))  # all fixed: no noise left
    # the public variant re-clusters everything: fewer fixed after a lower target
    report = fix_layers(layers, 0.5, variant="public")
    assert report.fixed_after == 172 == int(gather_posteriors(layers)[2].sum())
