"""Sparse variational dropout layers (Molchanov et al. 2017), additive parameterisation.

Each weight has a mean θ and log σ²; training samples pre-activations with the local
reparameterisation trick (mean x·θ, variance x²·σ²), evaluation uses θ with the weights of
log α ≥ `threshold` dropped. The layers replace nn.Linear / nn.Conv2d inside an architecture
(`to_variational`), so its own forward is reused unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.core.shards import randn_rows
from nncompress.layers.patch_conv import PatchConv2d
from nncompress.layers.patch_conv import conv2d as patch_conv2d
from nncompress.priors.logunif import kl_log_uniform, log_alpha

LOG_ALPHA_DROP = 3.0


class _VDMixin:
    def _init_vd(self, weight: torch.Tensor, bias, log_sigma2_init: float, threshold: float):
        self.theta = nn.Parameter(weight.detach().clone())
        self.log_sigma2 = nn.Parameter(torch.full_like(weight, float(log_sigma2_init)))
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None
        self.threshold = threshold

    @property
    def weight(self) -> torch.Tensor:
        """θ, for code around the layer that reads `layer.weight` (transformers checks its dtype)."""
        return self.theta

    def log_alpha(self) -> torch.Tensor:
        return log_alpha(self.theta, self.log_sigma2)

    def kl(self) -> torch.Tensor:
        return kl_log_uniform(self.log_alpha()).sum()

    def kept_mask(self) -> torch.Tensor:
        return self.log_alpha() < self.threshold

    def eval_weight(self) -> torch.Tensor:
        return self.theta * self.kept_mask()

    def _sample(self, mean, var):
        # per-example noise: under DDP, this rank's rows of the global batch's noise (core.shards)
        return mean + torch.sqrt(var + 1e-8) * randn_rows(mean)


class VDLinear(_VDMixin, nn.Module):
    def __init__(self, layer: nn.Linear, log_sigma2_init: float = -10.0, threshold: float = LOG_ALPHA_DROP):
        super().__init__()
        self._init_vd(layer.weight, layer.bias, log_sigma2_init, threshold)

    def forward(self, x):
        if not self.training:
            return F.linear(x, self.eval_weight(), self.bias)
        mean = F.linear(x, self.theta, self.bias)
        return self._sample(mean, F.linear(x * x, self.log_sigma2.exp()))


class VDConv2d(_VDMixin, nn.Module):
    conv = staticmethod(F.conv2d)

    def __init__(self, layer: nn.Conv2d, log_sigma2_init: float = -10.0, threshold: float = LOG_ALPHA_DROP):
        super().__init__()
        self._init_vd(layer.weight, layer.bias, log_sigma2_init, threshold)
        self.conv_args = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                              groups=layer.groups)
        if isinstance(layer, PatchConv2d):  # the layer's own arithmetic (faster on the CPU)
            self.conv = patch_conv2d

    def forward(self, x):
        if not self.training:
            return self.conv(x, self.eval_weight(), self.bias, **self.conv_args)
        mean = self.conv(x, self.theta, self.bias, **self.conv_args)
        return self._sample(mean, self.conv(x * x, self.log_sigma2.exp(), None, **self.conv_args))


class VDConv1d(VDConv2d):
    conv = staticmethod(F.conv1d)


VD_LAYERS = (VDLinear, VDConv2d)  # VDConv1d is a VDConv2d
_VD_OF = ((nn.Linear, VDLinear), (nn.Conv2d, VDConv2d), (nn.Conv1d, VDConv1d))


def to_variational(net: nn.Module, **kwargs) -> nn.Module:
    """Replace every Linear / Conv2d / Conv1d child of `net` by its VD layer, in place; returns net.
    (Convolutions with a padding mode other than zeros are not supported.)"""
    for name, child in list(net.named_children()):
        vd = next((v for t, v in _VD_OF if isinstance(child, t)), None)
        if vd is not None:
            if getattr(child, "padding_mode", "zeros") != "zeros":
                raise ValueError(f"{name}: sparse VD supports zero padding only, not '{child.padding_mode}'")
            setattr(net, name, vd(child, **kwargs))
        else:
            to_variational(child, **kwargs)
    return net


def vd_layers(net: nn.Module) -> list:
    return [m for m in net.modules() if isinstance(m, VD_LAYERS)]
