"""The log σ² and log α of a fixed random sample of weights over training (issue 14): what a
sparse-VD schedule can prune is decided by how far log σ² climbs and θ shrinks before training
stops, and this record shows both.

File `log_alpha_trajectory.npz` beside the run (rewritten at every record, so a crash loses at
most `every` steps): `step` (T,), `theta`, `log_sigma2` (T, n) float32, `layer` (n,) int16 index
of the weight's VD layer, `flat_index` (n,) int64 index into the layer's flattened θ,
`lr_log_sigma2` (T,) the Adam rate of log σ² at each record (Adam moves a parameter by at most
about its rate a step, so the start plus the summed rates bounds how far log σ² can have climbed).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nncompress.layers.vd import LOG_ALPHA_DROP, vd_layers
from nncompress.methods.base import ExportCallback
from nncompress.priors.logunif import log_alpha

FILE = "log_alpha_trajectory.npz"


class LogAlphaTrajectory(ExportCallback):
    def __init__(self, run_dir: Path, every: int = 500, n_weights: int = 300, seed: int = 0):
        self.path = Path(run_dir) / FILE
        self.every, self.n_weights, self.seed = int(every), int(n_weights), seed
        self.steps, self.thetas, self.log_sigma2s, self.lrs = [], [], [], []
        self.layer = self.flat_index = None  # the sampled weights, picked at the first record

    def _pick(self, layers) -> None:
        sizes = torch.tensor([m.theta.numel() for m in layers])
        g = torch.Generator().manual_seed(self.seed)
        flat = torch.randperm(int(sizes.sum()), generator=g)[: self.n_weights].sort().values
        starts = torch.cumsum(sizes, 0) - sizes
        layer = torch.searchsorted(torch.cumsum(sizes, 0), flat, right=True)
        self.layer, self.flat_index = layer.numpy().astype(np.int16), (flat - starts[layer]).numpy()

    @torch.no_grad()
    def record(self, module, step: int) -> None:
        layers = vd_layers(module.net)
        if not layers:
            return
        if self.layer is None:
            self._pick(layers)
        theta = np.empty(len(self.layer), np.float32)
        log_s2 = np.empty_like(theta)
        for i, m in enumerate(layers):
            sel = self.layer == i
            idx = torch.as_tensor(self.flat_index[sel], device=m.theta.device)
            theta[sel] = m.theta.flatten()[idx].float().cpu().numpy()
            log_s2[sel] = m.log_sigma2.flatten()[idx].float().cpu().numpy()
        self.lrs.append(self._rate(module))
        self.steps.append(step)
        self.thetas.append(theta)
        self.log_sigma2s.append(log_s2)
        self.save()

    @staticmethod
    def _rate(module) -> float:
        """log σ²'s current rate: from the optimizer where one runs (schedules), else the setting."""
        trainer = getattr(module, "_trainer", None)
        if trainer is not None and trainer.optimizers:
            return float(trainer.optimizers[0].param_groups[1]["lr"])  # groups: θ, log σ², mixture…
        return float(module.lrs["log_sigma2"])

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, step=np.asarray(self.steps, np.int64), theta=np.stack(self.thetas),
                 log_sigma2=np.stack(self.log_sigma2s), layer=self.layer, flat_index=self.flat_index,
                 lr_log_sigma2=np.asarray(self.lrs, np.float64))
        tmp.replace(self.path)

    def on_train_start(self, trainer, module):
        if not trainer.is_global_zero:  # trainer=ddp: one writer (the ranks hold the same weights)
            return
        if not self.steps or self.steps[-1] != trainer.global_step:
            self.record(module, trainer.global_step)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.is_global_zero and self.every and trainer.global_step % self.every == 0:
            self.record(module, trainer.global_step)

    def on_train_end(self, trainer, module):
        if self.steps and self.steps[-1] != trainer.global_step:
            self.record(module, trainer.global_step)


def load(path) -> dict:
    """The trajectory file as arrays, with log α (clipped as the KL sees it) added."""
    with np.load(path) as f:
        out = {k: f[k] for k in f.files}
    out["log_alpha"] = log_alpha(torch.from_numpy(out["theta"]), torch.from_numpy(out["log_sigma2"])).numpy()
    out["threshold"] = LOG_ALPHA_DROP
    lr = np.broadcast_to(out["lr_log_sigma2"], out["step"].shape)  # files with one rate: constant
    gaps = np.diff(out["step"], prepend=out["step"][:1])
    out["reach"] = out["log_sigma2"][0].mean() + np.cumsum(np.r_[0.0, lr[:-1]] * gaps)
    return out
