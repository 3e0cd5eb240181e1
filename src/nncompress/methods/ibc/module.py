"""Sparse VD, soft weight-sharing and their combination (paper 001) on a plain architecture.

    loss = CE + (tau1 * KL(q(w) || log-uniform) + tau2 * (-log GM(theta) - log Gamma(lambda))) / N

mode  | layers        | tau1 | tau2
vd    | VD (theta, log sigma^2) | 1 | 0
sws   | deterministic | 0    | tau_sws (Ullrich et al.)
vd_sws| VD            | 1    | 0 for the first `phase1_steps`, then tau2 (mixture re-initialised
                                 from the weights at the switch, paper 001 appendix A)
The mixture acts on the weights (not the biases), which is what the CSR/Huffman file codes.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.layers.vd import to_variational, vd_layers
from nncompress.methods.base import ClassifierModule
from nncompress.priors.mixture import GaussianMixturePrior
from nncompress.quantization.cluster import assign, kmeans_1d

MODES = ("vd", "sws", "vd_sws")


class BayesCompressModule(ClassifierModule):
    def __init__(self, net: nn.Module, n_train: int, mode: str = "vd_sws", tau1: float = 1.0, tau2: float = 2e-2,
                 phase1_steps: int = 0, n_components: int = 17, pi_zero: float = 0.999,
                 gamma_alpha: float = 1e5, gamma_beta: float = 10.0, gamma_alpha_zero=None, gamma_beta_zero=None,
                 mixture_init: str = "table3", mixture_init_sigma: float = 0.25, log_sigma2_init: float = -10.0,
                 lr_theta: float = 5e-5, lr_log_sigma2: float = 1e-4, lr_means: float = 1e-4,
                 lr_log_precisions: float = 1e-4, lr_log_mix: float = 3e-3):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown mode '{mode}'; choose one of {MODES}")
        self.mode, self.n_train = mode, n_train
        self.tau1 = tau1 if mode != "sws" else 0.0
        self.tau2, self.phase1_steps = tau2, (phase1_steps if mode == "vd_sws" else 0)
        self.lrs = dict(theta=lr_theta, log_sigma2=lr_log_sigma2, means=lr_means,
                        log_precisions=lr_log_precisions, log_mix=lr_log_mix)
        self.net = to_variational(net, log_sigma2_init=log_sigma2_init) if mode != "sws" else net
        self.mixture_kwargs = dict(n_components=n_components, pi_zero=pi_zero, gamma_alpha=gamma_alpha,
                                   gamma_beta=gamma_beta, gamma_alpha_zero=gamma_alpha_zero,
                                   gamma_beta_zero=gamma_beta_zero, init=mixture_init, init_sigma=mixture_init_sigma)
        self.mixture = None
        if mode != "vd":
            self.mixture = GaussianMixturePrior(self.weights().detach(), **self.mixture_kwargs)

    # -- weights ------------------------------------------------------------------------
    def weight_tensors(self) -> list:
        if self.mode == "sws":
            return [m.weight for m in self.net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        return [m.theta for m in vd_layers(self.net)]

    def weights(self) -> torch.Tensor:
        return torch.cat([w.flatten() for w in self.weight_tensors()])

    @torch.no_grad()
    def nonzero_fraction(self) -> float:
        """Fraction of weights kept: log alpha < 3 for VD, not at the zero component for SWS."""
        if self.mode == "vd":
            return float(self._vd_kept_fraction())
        _, idx = self.mixture.quantise(self.weights())
        return float((idx != 0).float().mean())

    @torch.no_grad()
    def quantised(self, vd_clusters: int = 64, drop_rate: float = 0.95):
        """(codebook indices per layer, biases per layer, codebook with 0.0 first).

        VD weights with dropout rate sigma^2 / (theta^2 + sigma^2) >= drop_rate are zeroed
        (paper 001, B.1); the rest are clustered: into `vd_clusters` k-means centres for VD
        alone, to their most responsible mixture component for SWS and VD+SWS."""
        layers = [m for m in self.net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))] if self.mode == "sws" \
            else vd_layers(self.net)
        weights = [w.detach().clone() for w in self.weight_tensors()]
        if self.mode != "sws":
            for w, m in zip(weights, layers):
                var = m.log_sigma2.exp()
                w[var / (m.theta**2 + var) >= drop_rate] = 0.0
        flat = torch.cat([w.flatten() for w in weights])
        if self.mode == "vd":
            centres = kmeans_1d(flat[flat != 0], vd_clusters)
            codebook = torch.cat([centres.new_zeros(1), centres[centres != 0]])
            indices = [torch.where(w == 0, 0, assign(w, codebook)) for w in weights]
        else:
            means, _, _ = self.mixture.components()
            _, comp = self.mixture.quantise(flat)
            comp = torch.where(flat == 0, 0, comp)
            codebook = means.detach().clone()
            indices, start = [], 0
            for w in weights:
                indices.append(comp[start : start + w.numel()].reshape(w.shape))
                start += w.numel()
        biases = [m.bias.detach().clone() for m in layers]
        return indices, biases, codebook.float()

    def predict(self, x):
        return self.net(x)

    @torch.no_grad()
    def _vd_kept_fraction(self) -> torch.Tensor:
        """Fraction of the VD weights with log alpha below the drop threshold (0-d tensor)."""
        layers = vd_layers(self.net)
        return sum(m.kept_mask().sum() for m in layers) / sum(m.theta.numel() for m in layers)

    def quantised_net(self, vd_clusters: int = 64, drop_rate: float = 0.95) -> nn.Module:
        """A copy of the network evaluating the quantised weights the file would hold."""
        indices, _, codebook = self.quantised(vd_clusters, drop_rate)
        return self._net_with(indices, codebook)

    @torch.no_grad()
    def _net_with(self, indices: list, codebook: torch.Tensor) -> nn.Module:
        net = copy.deepcopy(self.net).eval()
        layers = vd_layers(net) or [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        for layer, idx in zip(layers, indices):
            values = codebook.to(idx.device)[idx]
            if hasattr(layer, "theta"):
                layer.theta.copy_(values)
                layer.log_sigma2.fill_(-80.0)  # keep every weight: the zeros are in the values already
            else:
                layer.weight.copy_(values)
        return net

    # -- validation: how the quantised network is doing, for the dashboards ---------------
    def on_validation_epoch_start(self):
        # Quantised once per validation, at the coder's default settings: the file's network.
        indices, _, codebook = self.quantised()
        self._val_quantised = self._net_with(indices, codebook)
        self._val_nonzero = sum(int((i != 0).sum()) for i in indices) / sum(i.numel() for i in indices)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        x, y = batch
        err = (self._val_quantised(x).argmax(1) != y).float().mean() * 100.0
        self.log("val/error_quantised", err, batch_size=len(y))

    def on_validation_epoch_end(self):
        self._val_quantised = None
        self.log("val/nonzero_fraction", self._val_nonzero)

    def current_tau2(self) -> float:
        return 0.0 if self.global_step < self.phase1_steps else self.tau2

    # -- objective ----------------------------------------------------------------------
    def objective(self, x, y):
        ce = F.cross_entropy(self.net(x), y)
        terms = {"ce": ce}
        reg = ce.new_zeros(())
        if self.tau1:
            terms["kl_vd"] = sum(m.kl() for m in vd_layers(self.net))
            reg = reg + self.tau1 * terms["kl_vd"]
        tau2 = self.current_tau2()
        if self.mixture is not None and tau2:
            terms["neg_log_gm"] = self.mixture.neg_log_likelihood(self.weights()) - self.mixture.log_hyperprior()
            reg = reg + tau2 * terms["neg_log_gm"]
        return ce + reg / self.n_train, terms

    def on_train_batch_start(self, batch, batch_idx):
        if self.mode == "vd_sws" and self.phase1_steps and self.global_step == self.phase1_steps:
            self._reinit_mixture()

    @torch.no_grad()
    def _reinit_mixture(self):
        """Phase 2 starts: the mixture is initialised from the weights as they are now (Table 3)."""
        fresh = GaussianMixturePrior(self.weights().detach().cpu(), **self.mixture_kwargs)
        for name, p in self.mixture.named_parameters():
            p.copy_(getattr(fresh, name))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss, terms = self.objective(x, y)
        self.log("train/loss", loss, prog_bar=True)
        for k, v in terms.items():
            self.log(f"train/{k}", v)
        if self.mode != "sws":
            self.log("train/nonzero_fraction", self._vd_kept_fraction(), prog_bar=True)
        return loss

    def configure_optimizers(self):
        groups = []
        if self.mode == "sws":
            groups.append({"params": list(self.net.parameters()), "lr": self.lrs["theta"]})
        else:
            thetas = [p for n, p in self.net.named_parameters() if not n.endswith("log_sigma2")]
            sig = [p for n, p in self.net.named_parameters() if n.endswith("log_sigma2")]
            groups += [{"params": thetas, "lr": self.lrs["theta"]}, {"params": sig, "lr": self.lrs["log_sigma2"]}]
        if self.mixture is not None:
            groups += [{"params": [getattr(self.mixture, k)], "lr": self.lrs[k]}
                       for k in ("means", "log_precisions", "log_mix")]
        return torch.optim.Adam(groups)
