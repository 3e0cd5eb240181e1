"""task=prune_curve: test accuracy of a compressed sample as more of its weights are zeroed.

Acts on what the decoder rebuilds from model.mrc (never the means) and on the posterior each
variable was coded from (posterior.npz); writes pruning.json into the run dir. `run=` may be
one run dir or a sweep dir (every run with a model.mrc beneath it).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from nncompress.coding.container import read_container
from nncompress.errors import UserError
from nncompress.coding.mrc import MRCPayload, decode_weights
from nncompress.methods.base import test_error
from nncompress.pruning.strategies import STRATEGIES, prune, prune_order
from nncompress.tasks.builders import build_datamodule
from nncompress.tasks.results import write_results

log = logging.getLogger(__name__)


def fractions(cfg) -> list:
    n = int(round((cfg.stop - cfg.start) / cfg.step))
    return [round(cfg.start + i * cfg.step, 10) for i in range(n + 1)]


def curves_for_run(run_dir: Path, pcfg: DictConfig, dm) -> dict:
    """{strategy: {"fraction": [...], "accuracy": [...], "accuracy_repeats": [[...]]}} in percent."""
    _, raw = read_container(run_dir / "model.mrc")
    network, sample = decode_weights(MRCPayload.from_bytes(raw))
    post = np.load(run_dir / "posterior.npz")
    mu, sigma = torch.from_numpy(post["mu"]), torch.from_numpy(post["log_sigma"]).exp()
    device = dm.device
    network, sample = network.to(device), sample.to(device)
    loader = dm.test_dataloader()
    out = {"fractions": fractions(pcfg.fractions)}
    for strategy in pcfg.strategies:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown pruning strategy '{strategy}'; choose from {STRATEGIES}")
        repeats = int(pcfg.repeats) if strategy == "random" else 1
        acc = []
        for r in range(repeats):
            order = prune_order(strategy, sample, mu, sigma, seed=int(pcfg.seed) + r)
            acc.append([100.0 - test_error(network, prune(sample, order, f), loader) for f in out["fractions"]])
        out[strategy] = {"accuracy": np.mean(acc, axis=0).tolist(), "accuracy_repeats": acc}
    return out


def run_dirs(path: Path) -> list:
    if (path / "model.mrc").exists():
        return [path]
    return sorted(p.parent for p in path.rglob("model.mrc"))


def prune_curve(cfg: DictConfig, run_dir: Path) -> dict:
    if not cfg.get("run"):
        raise UserError("task=prune_curve needs run=RUN_DIR (a run with model.mrc, or a sweep dir)")
    target = Path(cfg.run).expanduser()
    dirs = run_dirs(target)
    if not dirs:
        raise UserError(f"no model.mrc under {target}: prune curves need a coded run")
    done = {}
    for d in dirs:
        run_cfg = OmegaConf.load(d / ".hydra" / "config.yaml") if (d / ".hydra" / "config.yaml").exists() else cfg
        dm = build_datamodule(OmegaConf.merge(run_cfg, {"dataset": {"data_dir": cfg.paths.data_dir}}))
        curves = curves_for_run(d, cfg.pruning, dm)
        write_results(d, curves, name="pruning.json")
        done[str(d)] = curves
        log.info("pruning curves written to %s", d / "pruning.json")
    print(f"wrote pruning.json for {len(done)} run(s)")
    return {"test_error": None, "runs": len(done)}
