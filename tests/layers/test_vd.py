"""VD layers: local reparameterisation moments, evaluation mask, and the module swap."""
import torch
from torch import nn

from nncompress.layers.vd import VDConv2d, VDLinear, to_variational, vd_layers
from nncompress.models.lenet import LeNet5Caffe


def test_local_reparameterisation_moments_linear():
    torch.manual_seed(0)
    layer = VDLinear(nn.Linear(6, 3), log_sigma2_init=-3.0)
    x = torch.randn(1, 6).repeat(20000, 1)
    out = layer(x)
    assert torch.allclose(out.mean(0), nn.functional.linear(x[:1], layer.theta, layer.bias)[0], atol=0.01)
    expected_var = (x[:1] ** 2) @ layer.log_sigma2.exp().T
    assert torch.allclose(out.var(0), expected_var[0], rtol=0.05)


def test_local_reparameterisation_moments_conv():
    torch.manual_seed(1)
    layer = VDConv2d(nn.Conv2d(2, 3, 3), log_sigma2_init=-4.0)
    x = torch.randn(1, 2, 5, 5).repeat(8000, 1, 1, 1)
    out = layer(x)
    mean = nn.functional.conv2d(x[:1], layer.theta, layer.bias)
    var = nn.functional.conv2d(x[:1] ** 2, layer.log_sigma2.exp())
    tol = 5 * torch.sqrt(var[0] / len(x))  # five standard errors of the sample mean
    assert ((out.mean(0) - mean[0]).abs() < tol).all()
    assert torch.allclose(out.var(0), var[0], rtol=0.08)


def test_evaluation_drops_high_alpha_weights():
    layer = VDLinear(nn.Linear(4, 2))
    with torch.no_grad():
        layer.theta.copy_(torch.tensor([[1.0, 0.01, 1.0, 1.0], [1.0, 1.0, 1.0, 0.001]]))
        layer.log_sigma2.fill_(-4.0)  # log α = −4 − log θ²: ≥ 3 only for the two tiny weights
    layer.eval()
    assert layer.kept_mask().tolist() == [[True, False, True, True], [True, True, True, False]]
    x = torch.ones(1, 4)
    assert torch.allclose(layer(x), torch.tensor([[3.0, 3.0]]) + layer.bias)


def test_swap_keeps_the_architecture_forward():
    torch.manual_seed(0)
    plain = LeNet5Caffe()
    vd = to_variational(LeNet5Caffe(), log_sigma2_init=-30.0)  # α ≈ 0: no weight is dropped
    vd.load_state_dict({k.replace("weight", "theta"): v for k, v in plain.state_dict().items()}, strict=False)
    assert len(vd_layers(vd)) == 4
    vd.eval()
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(vd(x), plain(x), atol=1e-6)
