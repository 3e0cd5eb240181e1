"""Bayes-by-backprop Linear and Conv2d layers with per-entry fixing (paper 002, appendix eq. 1-7).

Each weight and bias entry has a Gaussian posterior N(mu, sigma^2); sigma is stored directly (no
softplus) and clamped at 2^-30 where it is used. In training every forward draws one
reparameterised sample for the whole mini-batch (eq. 4-5; no local reparameterisation):

    w = mu + max(sigma, 2^-30) * eps,   eps ~ N(0, I),

so d w / d mu = I and d w / d sigma = eps (eq. 5-7). At evaluation w = mu. The eps of the last
training forward is kept (`last_eps`) for the sigma regulariser of PWFN.

Fixing. A boolean mask per tensor marks fixed entries; their value (a centre) and sigma live in
buffers and the forward reads them through torch.where:

    w = where(fixed, centre, mu + sigma * eps)   (training),   where(fixed, centre, mu)   (eval).

So fixed entries get no noise and no gradient from the loss, and an optimiser step (weight decay,
momentum) that moves the parameter entries behind them cannot change the network: the effective
means `mean(name)` stay bit-identical to the centres. A gradient hook also zeroes the parameter
gradients at fixed entries (against extra loss terms on mu or sigma); `sync_fixed_()` copies the
buffers back into the parameters for anyone reading the raw parameters.

`to_bayesian` swaps every nn.Linear / nn.Conv2d (exact types) of a network in place; normalisation
and all other layers stay deterministic. Convolutions keep stride, padding, dilation, groups and
padding mode.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.layers.patch_conv import PatchConv2d
from nncompress.layers.patch_conv import conv2d as patch_conv2d

SAMPLE_SIGMA_MIN = 2.0**-30

SigmaInit = Union[Callable[[torch.Tensor], torch.Tensor], float]


def _initial_sigma(mu: torch.Tensor, sigma_init: SigmaInit) -> torch.Tensor:
    if callable(sigma_init):
        sigma = sigma_init(mu.detach())
        if sigma.shape != mu.shape:
            raise ValueError(f"sigma_init returned shape {tuple(sigma.shape)} for means of {tuple(mu.shape)}")
        return sigma.detach().to(mu.dtype).clone()
    if float(sigma_init) < 0:
        raise ValueError(f"sigma_init must be >= 0, got {sigma_init}")
    return torch.full_like(mu.detach(), float(sigma_init))


class BayesByBackprop(nn.Module):
    """Shared posterior, sampling and fixing machinery; subclasses supply `_apply_layer`."""

    def _init_posterior(self, weight: torch.Tensor, bias: torch.Tensor | None, sigma_init: SigmaInit) -> None:
        self.posterior_names: tuple[str, ...] = ("weight",) if bias is None else ("weight", "bias")
        self.last_eps: dict[str, torch.Tensor] = {}
        for name, value in (("weight", weight), ("bias", bias)):
            if value is None:
                self.register_parameter(f"{name}_mu", None)
                self.register_parameter(f"{name}_sigma", None)
                continue
            mu = value.detach().clone()
            self.register_parameter(f"{name}_mu", nn.Parameter(mu))
            self.register_parameter(f"{name}_sigma", nn.Parameter(_initial_sigma(mu, sigma_init)))
            self.register_buffer(f"{name}_fixed", torch.zeros_like(mu, dtype=torch.bool))
            self.register_buffer(f"{name}_centre", torch.zeros_like(mu))
            self.register_buffer(f"{name}_fixed_sigma", torch.zeros_like(mu))

    # -- access -------------------------------------------------------------------------------
    @property
    def weight(self) -> torch.Tensor:
        """The effective weight mean, for code around the layer that reads `layer.weight`
        (transformers checks its dtype)."""
        return self.mean("weight")

    def mu(self, name: str) -> nn.Parameter:
        return getattr(self, f"{name}_mu")

    def sigma(self, name: str) -> nn.Parameter:
        return getattr(self, f"{name}_sigma")

    def fixed(self, name: str) -> torch.Tensor:
        return getattr(self, f"{name}_fixed")

    def mean(self, name: str) -> torch.Tensor:
        """Effective posterior mean: the centre where fixed, mu elsewhere."""
        return torch.where(self.fixed(name), getattr(self, f"{name}_centre"), self.mu(name))

    def std(self, name: str) -> torch.Tensor:
        """Effective posterior sigma: the group spread where fixed, sigma elsewhere."""
        return torch.where(self.fixed(name), getattr(self, f"{name}_fixed_sigma"), self.sigma(name))

    # -- fixing -------------------------------------------------------------------------------
    @torch.no_grad()
    def set_posterior_(self, name: str, mu: torch.Tensor, sigma: torch.Tensor, fixed: torch.Tensor) -> None:
        """Overwrite one tensor's state; entries with fixed=True take mu as their centre."""
        target = self.mu(name)
        mu = mu.reshape(target.shape).to(target.dtype)
        sigma = sigma.reshape(target.shape).to(target.dtype)
        fixed = fixed.reshape(target.shape).to(torch.bool)
        target.copy_(mu)
        self.sigma(name).copy_(sigma)
        self.fixed(name).copy_(fixed)
        getattr(self, f"{name}_centre").copy_(torch.where(fixed, mu, torch.zeros_like(mu)))
        getattr(self, f"{name}_fixed_sigma").copy_(torch.where(fixed, sigma, torch.zeros_like(sigma)))

    @torch.no_grad()
    def sync_fixed_(self) -> None:
        """Copy centres and fixed sigmas back into the parameters (undoes weight-decay drift)."""
        for name in self.posterior_names:
            self.mu(name).copy_(self.mean(name))
            self.sigma(name).copy_(self.std(name))

    def _ensure_grad_hooks(self) -> None:
        # Armed lazily and tracked by weak reference on the module: deepcopy and unpickling drop
        # tensor hooks, and a replaced parameter needs its own hook.
        hooked = self.__dict__.setdefault("_grad_hooked", [])
        for name in self.posterior_names:
            for param in (self.mu(name), self.sigma(name)):
                if param.requires_grad and not any(ref() is param for ref in hooked):
                    param.register_hook(lambda grad, name=name: grad.masked_fill(self.fixed(name), 0))
                    hooked.append(weakref.ref(param))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_grad_hooked", None)  # weak references do not pickle; the copy re-arms its own
        return state

    # -- forward ------------------------------------------------------------------------------
    def _sample(self, name: str) -> torch.Tensor:
        mu, fixed = self.mu(name), self.fixed(name)
        centre = getattr(self, f"{name}_centre")
        if not self.training:
            return torch.where(fixed, centre, mu)
        eps = torch.randn_like(mu)
        self.last_eps[name] = eps
        sample = mu + self.sigma(name).clamp_min(SAMPLE_SIGMA_MIN) * eps
        return torch.where(fixed, centre, sample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self._ensure_grad_hooks()
        weight = self._sample("weight")
        bias = self._sample("bias") if "bias" in self.posterior_names else None
        return self._apply_layer(x, weight, bias)

    def _apply_layer(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError


class BBBLinear(BayesByBackprop):
    """Bayes-by-backprop counterpart of nn.Linear."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, sigma_init: SigmaInit):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self._init_posterior(weight, bias, sigma_init)

    @classmethod
    def from_linear(cls, linear: nn.Linear, sigma_init: SigmaInit) -> BBBLinear:
        return cls(linear.weight, linear.bias, sigma_init).train(linear.training)

    def _apply_layer(self, x, weight, bias):
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        has_bias = "bias" in self.posterior_names
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


class BBBConv2d(BayesByBackprop):
    """Bayes-by-backprop counterpart of nn.Conv2d; stride, padding, dilation, groups, padding mode kept."""

    def __init__(self, conv: nn.Conv2d, sigma_init: SigmaInit):
        super().__init__()
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self.dilation, self.groups, self.padding_mode = conv.dilation, conv.groups, conv.padding_mode
        # nn.Conv2d's own explicit padding for non-zero modes (also covers padding="same").
        self._reversed_padding_repeated_twice = list(conv._reversed_padding_repeated_twice)
        self._init_posterior(conv.weight, conv.bias, sigma_init)
        if isinstance(conv, PatchConv2d):  # the layer's own arithmetic: at the mean, the same floats
            self.conv = patch_conv2d

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, sigma_init: SigmaInit) -> BBBConv2d:
        return cls(conv, sigma_init).train(conv.training)

    conv = staticmethod(F.conv2d)

    def _apply_layer(self, x, weight, bias):
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return self.conv(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return self.conv(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"padding_mode={self.padding_mode}, bias={'bias' in self.posterior_names}")


class BBBConv1d(BBBConv2d):
    """Bayes-by-backprop counterpart of nn.Conv1d (BBBConv2d with the 1-D convolution)."""

    conv = staticmethod(F.conv1d)


# PatchConv2d computes nn.Conv2d's function (only faster on the CPU), so it converts as one.
_BBB_OF = {nn.Linear: BBBLinear.from_linear, nn.Conv2d: BBBConv2d.from_conv, PatchConv2d: BBBConv2d.from_conv,
           nn.Conv1d: BBBConv1d.from_conv}


def to_bayesian(net: nn.Module, *, sigma_init: SigmaInit) -> nn.Module:
    """Replace every nn.Linear / nn.Conv2d / nn.Conv1d descendant of net in place; returns net.

    sigma_init: a function of the trained weight tensor (e.g. PWFN's eq. 8) or a constant.
    Other subclasses of Linear / Conv2d are left alone (their forward may differ).
    """
    if type(net) in _BBB_OF:
        raise ValueError("to_bayesian converts the children of a network; wrap a lone layer, "
                         "or use BBBLinear.from_linear / BBBConv2d.from_conv")
    replaced: dict[int, BayesByBackprop] = {}  # a layer shared by two parents stays shared
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) not in _BBB_OF:
                continue
            if id(child) not in replaced:
                replaced[id(child)] = _BBB_OF[type(child)](child, sigma_init)
            setattr(parent, child_name, replaced[id(child)])
    return net


def bayesian_layers(net: nn.Module) -> Iterator[tuple[str, BayesByBackprop]]:
    """(qualified name, layer) for every Bayes-by-backprop layer of net, in module order."""
    for name, module in net.named_modules():
        if isinstance(module, BayesByBackprop):
            yield name, module


def posterior_means(net: nn.Module) -> dict[str, list[torch.Tensor]]:
    """Effective means (centres where fixed) of each Bayes-by-backprop layer's weight and bias, by name."""
    return {name: [layer.mean(p).detach() for p in layer.posterior_names] for name, layer in bayesian_layers(net)}
