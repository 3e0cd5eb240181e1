"""A 2-D convolution computed as one matrix product over its input's patches, for few input channels.

oneDNN's CPU convolution is slow where the input has one or three channels (LeNet-5's first layer
on MNIST): its weight gradient took 16-30 ms of a 90 ms training step here. Taking the patches
(n H W, c kh kw) and multiplying by the (c kh kw, out) weight matrix gives the same sums in one
GEMM, and its (n, H, W, out) result is a channels-last tensor, on which the max-pooling that
follows is also ~4x faster than on NCHW (`python -m nncompress.bench --only mkl`:
`steps.lenet5_step.plain_conv1_over_eager`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Above this many values per patch, the copied patches cost more memory traffic than the GEMM saves.
MAX_PATCH = 128


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv2d's values (up to float rounding); by patches where `by_patches` says so."""
    if not by_patches(x, weight, stride, padding, dilation, groups):
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    n, c, h, w = x.shape
    out, _, kh, kw = weight.shape
    # The patches as a strided view, copied once in (n, H, W, c, kh, kw) order: 4x faster than
    # F.unfold + transpose, which copies twice.
    cols = x.unfold(2, kh, 1).unfold(3, kw, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw)
    flat = weight.reshape(out, -1).t()
    y = cols @ flat if bias is None else torch.addmm(bias, cols, flat)
    return y.view(n, h - kh + 1, w - kw + 1, out).permute(0, 3, 1, 2)  # NCHW, channels-last strides


def _all(v, value: int) -> bool:
    return all(a == value for a in (v if isinstance(v, (tuple, list)) else (v,)))


def by_patches(x, weight, stride, padding, dilation, groups) -> bool:
    """On the CPU, for stride 1, no padding or dilation, one group and at most MAX_PATCH values a
    patch; GPUs, ONNX export and every other setting take F.conv2d."""
    return (x.device.type == "cpu" and x.dim() == 4 and weight.dim() == 4 and x.shape[0] > 0
            and groups == 1 and _all(stride, 1) and _all(dilation, 1) and (padding == "valid" or _all(padding, 0))
            and weight.shape[1] * weight.shape[2] * weight.shape[3] <= MAX_PATCH
            and x.shape[2] >= weight.shape[2] and x.shape[3] >= weight.shape[3]
            and not torch.onnx.is_in_onnx_export())


class PatchConv2d(nn.Conv2d):
    """nn.Conv2d (same parameters, state dict, hooks and values up to float rounding) whose forward
    is `conv2d` above: by patches on the CPU where that applies, nn.Conv2d's own elsewhere."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias):
        if self.padding_mode != "zeros":
            return super()._conv_forward(x, weight, bias)
        return conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)
