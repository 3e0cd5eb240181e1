"""The Lightning module of PWFN (paper 002): a trained network whose Linear and Conv2d layers carry a
Gaussian posterior per weight and bias (layers/bayes_by_backprop.py), trained by

    loss = CE(net_eps(x), y) + (alpha / 2) sum_free |eps| relu(gamma - sigma)^2      (schedule.py)

with one reparameterised sample per mini-batch (appendix eq. 4-7; the public code has no KL or
log-prior term), and evaluated at the means. The sigmas start from appendix eq. 8 per tensor
(sigma_init.py). Normalisation layers stay deterministic and are trained, not fixed.

`push_fixed` reproduces the public code's push on fixed sigmas: in our layers a fixed entry has no
noise and no loss gradient, so after every step its sigma (the group spread, used again only by the
public variant's re-clustering) gets the push's own SGD step, sigma += lr alpha relu(gamma - sigma) |eps|.

A round trains under its own Lightning Trainer (rounds.py), whose step counter restarts at 0:
`steps_done` carries the steps of earlier rounds, and training metrics go to the run's loggers on
that global axis every `log_every` steps (under trainer=ddp, averaged over the ranks: the global
batch's figures, as one process logs them).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.core.evaluation import logits_of
from nncompress.layers.bayes_by_backprop import BayesByBackprop, bayesian_layers, to_bayesian
from nncompress.methods.base import ClassifierModule
from nncompress.methods.pwfn.optim import FreeDecaySGD
from nncompress.methods.pwfn.schedule import sigma_push_loss
from nncompress.methods.pwfn.settings import PwfnSettings
from nncompress.methods.pwfn.sigma_init import init_sigma


class PwfnModule(ClassifierModule):
    def __init__(self, net: nn.Module, settings: PwfnSettings):
        """net: the trained plain architecture (converted in place)."""
        super().__init__()
        self.settings = settings
        self.net = to_bayesian(net, sigma_init=init_sigma)
        self.steps_done = 0       # optimiser steps of the finished rounds
        self.metric_loggers: list = []

    # -- weights ------------------------------------------------------------------------------
    def named_layers(self) -> list[tuple[str, BayesByBackprop]]:
        return list(bayesian_layers(self.net))

    def layers(self) -> list[BayesByBackprop]:
        return [layer for _, layer in bayesian_layers(self.net)]

    def n_weights(self) -> int:
        """Weights and biases of the Bayes-by-backprop layers: the N of the schedule."""
        return sum(layer.mu(name).numel() for layer in self.layers() for name in layer.posterior_names)

    def n_fixed(self) -> int:
        return sum(int(layer.fixed(name).sum()) for layer in self.layers() for name in layer.posterior_names)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.net(x))

    # -- training -----------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        x, y = batch
        s = self.settings
        ce = F.cross_entropy(logits_of(self.net(x)), y)
        push = sigma_push_loss(self.layers(), s.alpha, s.gamma) if s.alpha > 0 else ce.new_zeros(())
        loss = ce + push
        step = self.steps_done + self.global_step
        if step % s.log_every == 0:
            values = torch.stack([ce.detach(), push.detach(), loss.detach()])
            if self._trainer is not None and self.trainer.world_size > 1:
                # trainer=ddp: each rank's ce is the mean over its rows of the global batch (the push
                # is the same on every rank), so the mean over ranks is the global batch's loss.
                # Every rank takes part, whatever it logs to.
                values = self.trainer.strategy.reduce(values, reduce_op="mean")
            ce_all, push_all, loss_all = values.tolist()
            metrics = {"train/ce": ce_all, "train/sigma_push": push_all, "train/loss": loss_all,
                       "train/rows_per_rank": len(x)}  # of the global batch (dataset.batch_size)
            for logger in self.metric_loggers:
                logger.log_metrics(metrics, step=step)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        s = self.settings
        if s.push_fixed and s.alpha > 0:
            self._push_fixed_sigmas(s.lr * s.alpha, s.gamma)

    @torch.no_grad()
    def _push_fixed_sigmas(self, rate: float, gamma: float) -> None:
        for layer in self.layers():
            for name in layer.posterior_names:
                fixed, eps = layer.fixed(name), layer.last_eps.get(name)
                if eps is None or not bool(fixed.any()):
                    continue
                sigma = layer.std(name)
                pushed = sigma + rate * torch.relu(gamma - sigma) * eps.abs()
                layer.set_posterior_(name, layer.mean(name), torch.where(fixed, pushed, sigma), fixed)

    def configure_optimizers(self):
        s = self.settings
        free_masks = {}
        for layer in self.layers():
            for name in layer.posterior_names:
                def free(layer=layer, name=name):
                    return ~layer.fixed(name)
                free_masks[layer.mu(name)] = free_masks[layer.sigma(name)] = free
        return FreeDecaySGD(self.net.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay,
                            clip_norm=s.clip_norm, free_masks=free_masks)
