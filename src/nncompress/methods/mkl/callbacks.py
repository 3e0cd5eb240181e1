"""W&B views of a coded MIRACLE run: per-layer posterior histograms (paper 000, Figure 1) and the
pruning curves (Figure 3), drawn from the artifacts the run wrote beside its model.mrc."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nncompress.methods.base import ExportCallback


def _wandb_loggers(trainer) -> list:
    return [lg for lg in trainer.loggers if type(lg).__name__ == "WandbLogger"]


class PosteriorHistograms(ExportCallback):
    """Histograms of the mean and log std each variable was coded from, one pair per layer."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "posterior.npz"

    def on_export_end(self, trainer, module, record):
        loggers = _wandb_loggers(trainer)
        if not loggers or not self.path.exists():
            return
        import wandb

        post = np.load(self.path)
        data = {}
        for i, name in enumerate(post["layer_names"]):
            sel = post["layer"] == i
            data[f"posterior/{name}/mu"] = wandb.Histogram(post["mu"][sel])
            data[f"posterior/{name}/log_sigma"] = wandb.Histogram(post["log_sigma"][sel])
        for lg in loggers:
            lg.experiment.log(data)


class PruningCurvesPlot(ExportCallback):
    """Test accuracy against the fraction of the coded sample set to zero, one line per strategy."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "pruning.json"

    def on_export_end(self, trainer, module, record):
        loggers = _wandb_loggers(trainer)
        if not loggers or not self.path.exists():
            return
        import wandb

        curves = json.loads(self.path.read_text())
        names = [k for k in curves if k != "fractions"]
        xs = [curves[k].get("fractions", curves.get("fractions")) for k in names]  # each curve's own grid
        plot = wandb.plot.line_series(xs=xs, ys=[curves[k]["accuracy"] for k in names],
                                      keys=names, title="Test accuracy when pruning the compressed sample",
                                      xname="fraction of weights set to zero")
        for lg in loggers:
            lg.experiment.log({"pruning/curves": plot})
