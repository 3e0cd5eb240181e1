"""The optimiser of a PWFN round (paper 002; REFERENCE.md §3): SGD with momentum, gradient-norm
clipping and weight decay that skips fixed entries.

One step, in the public code's order:

    g <- grad of (CE + sigma push)             (the closure: forward and backward)
    g <- g * min(1, clip_norm / ||g||_2)       (all parameters together, as clip_grad_norm_)
    g <- g + weight_decay * theta * free       (torch SGD's decay, added after clipping; free = 0 at
                                                fixed entries, 1 elsewhere)
    SGD with momentum on g

Fixed entries get a zero loss gradient (the Bayes-by-backprop layers' gradient hook) and no decay,
and a round's optimiser is new (momentum buffers at zero), so their parameters never move: the
fixed values stay bit-identical in the parameters as well as in the layers' buffers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


class FreeDecaySGD(torch.optim.SGD):
    """torch.optim.SGD whose weight decay is masked per entry and which clips before decaying.

    free_masks: parameter -> a function returning its current bool mask of free entries (the
    masks change between rounds, so they are read at every step); parameters not in it decay
    everywhere (BatchNorm, never fixed).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float, weight_decay: float,
                 clip_norm: float, free_masks: dict[torch.nn.Parameter, Callable[[], torch.Tensor]] | None = None):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=0.0)
        self.decay, self.clip_norm = float(weight_decay), float(clip_norm)
        self.free_masks = free_masks or {}

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if self.clip_norm > 0 and params:
            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)
        if self.decay > 0:
            for p in params:
                mask = self.free_masks.get(p)
                p.grad.add_(p if mask is None else p * mask(), alpha=self.decay)
        super().step()
        return loss
