"""layers/patch_conv: the convolution by patches computes F.conv2d's values and gradients, falls back
where it does not apply, and stays an nn.Conv2d to every converter and hook."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nncompress.layers.bayes_by_backprop import BBBConv2d, to_bayesian
from nncompress.layers.patch_conv import PatchConv2d, by_patches, conv2d
from nncompress.layers.vd import VDConv2d, to_variational
from nncompress.models.lenet import LeNet5Caffe


def _grads(fn, x, w, b):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    b = None if b is None else b.clone().requires_grad_()
    y = fn(x, w, b)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()  # a non-uniform upstream gradient
    return y, x.grad, w.grad, None if b is None else b.grad


@pytest.mark.parametrize("c,size,bias", [(1, 28, True), (3, 32, True), (2, 9, False), (5, 7, True)])
def test_values_and_gradients_are_f_conv2d(c, size, bias):
    g = torch.Generator().manual_seed(c)
    x = torch.randn(6, c, size, size, generator=g)
    w = torch.randn(4, c, 5, 5, generator=g) * 0.2
    b = torch.randn(4, generator=g) if bias else None
    assert by_patches(x, w, 1, 0, 1, 1)
    ours, ref = _grads(conv2d, x, w, b), _grads(F.conv2d, x, w, b)
    assert ours[0].shape == ref[0].shape and ours[0].is_contiguous(memory_format=torch.channels_last)
    for a, r in zip(ours, ref):
        if r is not None:
            torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-6 * float(r.abs().max()))  # float32 sums


@pytest.mark.parametrize("kwargs,why", [
    (dict(stride=2), "stride"), (dict(padding=1), "padding"), (dict(padding="same"), "padding 'same'"),
    (dict(dilation=2), "dilation"), (dict(groups=2), "groups")])
def test_other_settings_take_f_conv2d(kwargs, why):
    x = torch.randn(2, 2, 12, 12)
    w = torch.randn(4, 2 // kwargs.get("groups", 1), 3, 3)
    args = dict(stride=1, padding=0, dilation=1, groups=1) | kwargs
    assert not by_patches(x, w, args["stride"], args["padding"], args["dilation"], args["groups"]), why
    assert torch.equal(conv2d(x, w, None, **args), F.conv2d(x, w, None, **args))


def test_many_input_channels_take_f_conv2d():
    x, w = torch.randn(2, 20, 12, 12), torch.randn(50, 20, 5, 5)  # 500 values a patch > MAX_PATCH
    assert not by_patches(x, w, 1, 0, 1, 1)
    assert torch.equal(conv2d(x, w), F.conv2d(x, w))


def test_patch_conv2d_is_an_nn_conv2d_with_its_state_and_hooks():
    torch.manual_seed(0)
    plain = nn.Conv2d(1, 20, 5)
    patch = PatchConv2d(1, 20, 5)
    patch.load_state_dict(plain.state_dict())
    assert list(patch.state_dict()) == list(plain.state_dict())
    seen = []
    patch.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(patch(x), plain(x), rtol=1e-5, atol=1e-5)
    assert seen == [torch.Size([3, 20, 24, 24])]


def _plain_lenet5_forward(net, x):
    """LeNet-5's forward as written before the patch convolution: oneDNN's conv1, ReLU before pooling."""
    x = F.max_pool2d(F.relu(F.conv2d(x, net.conv1.weight, net.conv1.bias)), 2)
    x = F.max_pool2d(F.relu(net.conv2(x)), 2)
    return net.fc2(F.relu(net.fc1(x.flatten(1))))


def test_lenet5_values_and_gradients_are_the_plain_forwards():
    torch.manual_seed(0)
    net = LeNet5Caffe()
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    grads = []
    for forward in (net, lambda x: _plain_lenet5_forward(net, x)):
        net.zero_grad()
        F.cross_entropy(forward(x), y).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_converters_keep_lenet5_conv1s_arithmetic():
    """Bayes-by-backprop converts exact types only, and PatchConv2d is on its list (PWFN on
    LeNet-5); both converters keep the layer's arithmetic, so at the mean BBB gives its very floats."""
    torch.manual_seed(0)
    net, x = LeNet5Caffe(), torch.randn(8, 1, 28, 28)
    reference = net.conv1(x)
    bbb = to_bayesian(copy.deepcopy(net), sigma_init=1e-3)
    assert isinstance(bbb.conv1, BBBConv2d) and isinstance(bbb.conv2, BBBConv2d)
    assert torch.equal(bbb.conv1.eval()(x), reference)
    assert bbb.conv2.conv is F.conv2d  # 20 input channels: oneDNN's, as nn.Conv2d
    vd = to_variational(copy.deepcopy(net))
    assert isinstance(vd.conv1, VDConv2d) and vd.conv1.conv is conv2d and vd.conv2.conv is F.conv2d
    plain = to_bayesian(nn.Sequential(nn.Conv2d(1, 4, 3)), sigma_init=1e-3)
    assert plain[0].conv is F.conv2d  # an nn.Conv2d stays oneDNN's: the same floats as before
