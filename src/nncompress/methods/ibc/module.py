"""The Lightning module of paper 001's methods: a plain architecture plus a list of objective
terms (`objectives.py`). With a SparseVDKL term every Linear / Conv2d becomes a sparse-VD layer
(θ, log σ²); without, the weights stay deterministic (SWS). The file's quantisation follows the
terms: with a MixturePrior each weight goes to its most responsible component, else (VD alone)
weights with dropout rate ≥ 0.95 are zeroed and the rest clustered by k-means (paper 001, B.1).
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from nncompress.core.evaluation import logits_of
from nncompress.layers.vd import to_variational, vd_layers
from nncompress.methods.base import ClassifierModule, linear_decay
from nncompress.methods.ibc.objectives import MixturePrior, SparseVDKL
from nncompress.quantization.cluster import assign, kmeans_1d


def weight_layers(net: nn.Module) -> list:
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv1d))]


class IbcModule(ClassifierModule):
    def __init__(self, net: nn.Module, n_train: int, kl: Optional[SparseVDKL] = None,
                 mixture: Optional[dict] = None, log_sigma2_init: float = -10.0, lr_theta: float = 5e-5,
                 lr_log_sigma2: float = 1e-4, lr_means: float = 1e-4, lr_log_precisions: float = 1e-4,
                 lr_log_mix: float = 3e-3, lr_decay_steps: int = 0, lr_decay_start: int = 0,
                 lr_theta_final: float = 0.0, lr_log_sigma2_final: float = 0.0):
        """kl: the sparse-VD term (None: deterministic weights); mixture: MixturePrior's arguments
        (tau, start_step and the GaussianMixturePrior's), None: no mixture term.

        lr_decay_steps > 0: the rates of θ and log σ² stay at lr_theta / lr_log_sigma2 until step
        lr_decay_start, fall linearly to lr_*_final at step lr_decay_steps and stay there
        (Molchanov et al.'s policy: constant for 100 of 200 epochs, then to 0; in VD+SWS phase 2
        then goes on at Table 3's rates); the mixture's rates stay constant.
        0: every rate constant (paper 001, Table 3)."""
        super().__init__()
        self.lr_decay_steps, self.lr_decay_start = int(lr_decay_steps), int(lr_decay_start)
        self.lr_final = dict(theta=float(lr_theta_final), log_sigma2=float(lr_log_sigma2_final))
        self.n_train = n_train
        self.lrs = dict(theta=lr_theta, log_sigma2=lr_log_sigma2, means=lr_means,
                        log_precisions=lr_log_precisions, log_mix=lr_log_mix)
        self.kl = kl
        self.net = to_variational(net, log_sigma2_init=log_sigma2_init) if kl is not None else net
        self.mixture_prior = MixturePrior(self.weights().detach(), **mixture) if mixture is not None else None
        self.terms = [t for t in (self.kl, self.mixture_prior) if t is not None]

    @property
    def variational(self) -> bool:
        return self.kl is not None

    @property
    def mixture(self):
        return None if self.mixture_prior is None else self.mixture_prior.mixture

    @property
    def clustering(self) -> bool:
        """True when the weights are quantised by the mixture: it exists and its phase has begun
        (in VD+SWS's phase 1 it is not fitted yet, and the weights are quantised as for VD alone)."""
        return self.mixture is not None and self.global_step >= self.mixture_prior.start_step

    # -- weights ------------------------------------------------------------------------
    def layers(self) -> list:
        return vd_layers(self.net) if self.variational else weight_layers(self.net)

    def weight_tensors(self) -> list:
        return [m.theta if self.variational else m.weight for m in self.layers()]

    def weights(self) -> torch.Tensor:
        return torch.cat([w.flatten() for w in self.weight_tensors()])

    @torch.no_grad()
    def nonzero_fraction(self) -> float:
        """Fraction of weights kept: not at the zero component with a mixture, log α < 3 for VD alone."""
        if not self.clustering:
            return float(self._vd_kept_fraction())
        _, idx = self.mixture.quantise(self.weights())
        return float((idx != 0).float().mean())

    @torch.no_grad()
    def _vd_kept_fraction(self) -> torch.Tensor:
        """Fraction of the VD weights with log alpha below the drop threshold (0-d tensor)."""
        layers = vd_layers(self.net)
        return sum(m.kept_mask().sum() for m in layers) / sum(m.theta.numel() for m in layers)

    @torch.no_grad()
    def quantised(self, vd_clusters: int = 64, drop_rate: float = 0.95):
        """(codebook indices per layer, biases per layer, codebook with 0.0 first).

        VD weights with dropout rate sigma^2 / (theta^2 + sigma^2) >= drop_rate are zeroed
        (paper 001, B.1); the rest are clustered: into `vd_clusters` k-means centres for VD
        alone, to their most responsible mixture component for SWS and VD+SWS."""
        layers = self.layers()
        weights = [w.detach().clone() for w in self.weight_tensors()]
        if self.variational:
            for w, m in zip(weights, layers):
                var = m.log_sigma2.exp()
                w[var / (m.theta**2 + var) >= drop_rate] = 0.0
        flat = torch.cat([w.flatten() for w in weights])
        if not self.clustering:
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
        biases = [m.bias.detach().clone() if m.bias is not None else None for m in layers]
        return indices, biases, codebook.float()

    def predict(self, x):
        return logits_of(self.net(x))

    @torch.no_grad()
    def net_with(self, indices: list, codebook: torch.Tensor) -> nn.Module:
        """A copy of the network evaluating the quantised weights `quantised()` describes."""
        net = copy.deepcopy(self.net).eval()
        for layer, idx in zip(vd_layers(net) or weight_layers(net), indices):
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
        self._val_quantised = self.net_with(indices, codebook)
        self._val_nonzero = sum(int((i != 0).sum()) for i in indices) / sum(i.numel() for i in indices)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        x, y = batch
        err = (self._val_quantised(x).argmax(1) != y).float().mean() * 100.0
        self.log("val/error_quantised", err, batch_size=len(y))

    def on_validation_epoch_end(self):
        self._val_quantised = None
        self.log("val/nonzero_fraction", self._val_nonzero)

    # -- objective ----------------------------------------------------------------------
    def objective(self, x, y):
        ce = F.cross_entropy(logits_of(self.net(x)), y)
        terms = {"ce": ce}
        reg = ce.new_zeros(())
        for term in self.terms:
            weight = term.weight(self.global_step)
            if weight:
                terms[term.name] = term.value(self)
                reg = reg + weight * terms[term.name]
        return ce + reg / self.n_train, terms

    def on_train_batch_start(self, batch, batch_idx):
        p = self.mixture_prior
        if p is not None and p.start_step and self.global_step == p.start_step:
            p.reinitialise(self.weights())

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss, terms = self.objective(x, y)
        self.log("train/loss", loss, prog_bar=True)
        for k, v in terms.items():
            self.log(f"train/{k}", v)
        if self.variational:
            self.log("train/nonzero_fraction", self._vd_kept_fraction(), prog_bar=True)
        return loss

    def configure_optimizers(self):
        groups = []
        if not self.variational:
            groups.append({"params": list(self.net.parameters()), "lr": self.lrs["theta"]})
        else:
            thetas = [p for n, p in self.net.named_parameters() if not n.endswith("log_sigma2")]
            sig = [p for n, p in self.net.named_parameters() if n.endswith("log_sigma2")]
            groups += [{"params": thetas, "lr": self.lrs["theta"]}, {"params": sig, "lr": self.lrs["log_sigma2"]}]
        if self.mixture is not None:
            groups += [{"params": [getattr(self.mixture, k)], "lr": self.lrs[k]}
                       for k in ("means", "log_precisions", "log_mix")]
        opt = torch.optim.Adam(groups)
        if not (self.lr_decay_steps and self.variational):
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, [self._decay(k) for k in ("theta", "log_sigma2")]
                                                  + [lambda step: 1.0] * (len(groups) - 2))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _decay(self, key: str):
        """The factor on lrs[key] at a step: 1 until lr_decay_start, then linear to lr_final / lr
        at lr_decay_steps."""
        return linear_decay(self.lr_decay_start, self.lr_decay_steps, self.lr_final[key] / self.lrs[key])
