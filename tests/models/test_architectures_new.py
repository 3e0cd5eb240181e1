"""The MLP (paper 003, MNIST), the CIFAR CNN (paper 003) and ResNet-18 (paper 002, CIFAR)."""

import pytest
import torch
from torch import nn

from nncompress.models.cifar_cnn import CifarCNN
from nncompress.models.mlp import MLP
from nncompress.models.resnet import ResNet18

# (class, in_channels, image_size)
MODELS = [(MLP, 1, 28), (CifarCNN, 3, 32), (ResNet18, 3, 32)]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return ResNet18()


def build(cls, c, s, **kw):
    torch.manual_seed(0)
    return cls(in_channels=c, num_classes=kw.pop("num_classes", 10), image_size=s, **kw)


@pytest.mark.parametrize("cls,c,s", MODELS)
@pytest.mark.parametrize("classes", [10, 100])
def test_forward_shape(cls, c, s, classes):
    model = build(cls, c, s, num_classes=classes).eval()
    out = model(torch.randn(2, c, s, s))
    assert out.shape == (2, classes) and torch.isfinite(out).all()


def test_mlp_param_count_by_hand():
    expected = (784 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    assert n_params(MLP()) == expected == 269_322
    assert n_params(MLP(widths=(30, 20), num_classes=5)) == (784 * 30 + 30) + (30 * 20 + 20) + (20 * 5 + 5)


def test_cnn_param_count_by_hand():
    widths = [3, 128, 128, 256, 256, 512, 512, 1024]
    convs = sum(9 * cin * cout + cout for cin, cout in zip(widths, widths[1:]))  # 3x3 with bias
    # BatchNorm(affine=False) adds nothing; the classifier sees 1024 x 1 x 1 features
    assert n_params(CifarCNN()) == convs + 1024 * 10 + 10 == 9_306_250
    assert n_params(CifarCNN(num_classes=100)) == convs + 1024 * 100 + 100


def test_resnet18_param_count(resnet):
    assert n_params(resnet) == 11_173_962
    assert n_params(ResNet18(num_classes=100)) == 11_173_962 + 512 * 90 + 90


@pytest.mark.parametrize("cls,c,s", MODELS)
def test_layer_names_cover_all_weight_layers_in_forward_order(cls, c, s):
    model = build(cls, c, s).eval()
    names = list(cls.layer_names)
    for name in names:
        assert isinstance(model.get_submodule(name), (nn.Linear, nn.Conv2d)), name
    weighted = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert sorted(weighted) == sorted(names) and len(set(names)) == len(names)
    called = []
    for name in names:
        model.get_submodule(name).register_forward_hook(lambda *_, n=name: called.append(n))
    model(torch.zeros(1, c, s, s))
    assert called == names


def test_dropout_only_in_train_mode():
    model = build(MLP, 1, 28)
    x = torch.randn(64, 1, 28, 28)
    seen = []
    model.drop1.register_forward_hook(lambda m, i, o: seen.append((i[0], o)))
    model.train()
    a, b = model(x), model(x)
    assert not torch.allclose(a, b)
    inp, out = seen[0]
    active = inp > 0
    zeroed = (out[active] == 0).float().mean().item()
    assert 0.15 < zeroed < 0.25  # p = 0.2 of the live hidden units dropped
    torch.testing.assert_close(out[out != 0], inp[out != 0] / 0.8)  # inverted dropout scaling
    model.eval()
    assert torch.equal(model(x), model(x))
    no_drop = build(MLP, 1, 28, dropout=0.0).train()
    assert torch.equal(no_drop(x), no_drop(x))


def test_cnn_structure_and_spatial_sizes():
    model = build(CifarCNN, 3, 32)
    convs = [model.get_submodule(n) for n in CifarCNN.layer_names[:-1]]
    assert [m.out_channels for m in convs] == [128, 128, 256, 256, 512, 512, 1024]
    assert all(m.kernel_size == (3, 3) and m.bias is not None for m in convs)
    assert [m.padding for m in convs] == [(1, 1)] * 6 + [(0, 0)]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 4
    sizes, x = [], torch.zeros(2, 3, 32, 32)
    for m in model.features:
        x = m(x)
        if isinstance(m, nn.MaxPool2d) or m is convs[-1]:
            sizes.append(x.shape[-1])
    assert sizes == [16, 8, 4, 2, 1] and x.shape == (2, 1024, 1, 1)
    with pytest.raises(ValueError, match="too small"):
        CifarCNN(image_size=28)


def test_cnn_batchnorm_has_no_parameters():
    model = build(CifarCNN, 3, 32)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 7
    for bn in bns:
        assert not bn.affine and bn.weight is None and bn.bias is None
        assert list(bn.parameters()) == [] and bn.running_mean.shape == (bn.num_features,)
    # every parameter belongs to a listed conv / linear layer
    listed = {f"{n}.{p}" for n in CifarCNN.layer_names for p in ("weight", "bias")}
    assert {n for n, _ in model.named_parameters()} == listed
    # train mode normalises with batch statistics: each channel ~ zero mean before the ReLU
    pre = []
    model.features[1].register_forward_hook(lambda m, i, o: pre.append(o))
    model.train()(torch.randn(8, 3, 32, 32) * 5 + 3)
    assert pre[0].mean(dim=(0, 2, 3)).abs().max() < 1e-4


def test_resnet18_stem_and_shortcuts(resnet):
    assert resnet.conv1.kernel_size == (3, 3) and resnet.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in resnet.modules())
    projections = [n for n in ResNet18.layer_names if "shortcut" in n]
    assert projections == ["layer2.0.shortcut.0", "layer3.0.shortcut.0", "layer4.0.shortcut.0"]
    for name in projections:
        conv = resnet.get_submodule(name)
        assert conv.kernel_size == (1, 1) and conv.stride == (2, 2)
        assert isinstance(resnet.get_submodule(name[:-1] + "1"), nn.BatchNorm2d)
    assert len(resnet.layer1[0].shortcut) == 0  # identity
    x = torch.zeros(2, 3, 32, 32)
    resnet.eval()
    out = torch.relu(resnet.bn1(resnet.conv1(x)))
    for stage, side, width in [(resnet.layer1, 32, 64), (resnet.layer2, 16, 128),
                               (resnet.layer3, 8, 256), (resnet.layer4, 4, 512)]:
        out = stage(out)
        assert out.shape == (2, width, side, side)
    assert resnet.linear.in_features == 512
