"""task=train: fit -> (compress -> decode from the file) -> evaluate -> results.json."""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from nncompress.coding.container import read_container, write_container
from nncompress.coding.deep_compression import CompressedNet, build_compressed
from nncompress.coding.encoder import CodingPaused, MRCConfig, MRCEncoder
from nncompress.coding.mrc import MRCPayload, decode_weights, weights_sha256
from nncompress.errors import UserError
from nncompress.methods.base import test_error
from nncompress.models.coded import CodedNetwork
from nncompress.tasks.builders import build_datamodule, build_loggers, build_method, build_spec, build_trainer
from nncompress.tasks.prune_curve import curves_for_run
from nncompress.tasks.results import write_results

log = logging.getLogger(__name__)


def _log_metrics(loggers, metrics: dict, step: int):
    for lg in loggers:
        lg.log_metrics(metrics, step=step)


def _log_posterior_histograms(loggers, module, network):
    """Per-layer histograms of the coded-from posterior (Figure 1) on W&B dashboards."""
    for lg in loggers:
        if type(lg).__name__ != "WandbLogger":
            continue
        import wandb

        layer = network.layer_of.cpu()
        mu, log_sigma = module.coded_mu.cpu(), module.coded_sigma.clamp_min(1e-30).log().cpu()
        data = {}
        for i, name in enumerate(network.net.layer_names):
            sel = layer == i
            data[f"posterior/{name}/mu"] = wandb.Histogram(mu[sel].numpy())
            data[f"posterior/{name}/log_sigma"] = wandb.Histogram(log_sigma[sel].numpy())
        lg.experiment.log(data)


def _log_pruning_curves(loggers, curves: dict):
    """Accuracy against fraction pruned, one line per strategy, as a W&B line plot."""
    for lg in loggers:
        if type(lg).__name__ != "WandbLogger":
            continue
        import wandb

        names = [k for k in curves if k != "fractions"]
        plot = wandb.plot.line_series(xs=curves["fractions"], ys=[curves[k]["accuracy"] for k in names],
                                      keys=names, title="Test accuracy when pruning the compressed sample",
                                      xname="fraction of weights set to zero")
        lg.experiment.log({"pruning/curves": plot})


def mrc_config(cfg: DictConfig) -> MRCConfig:
    c = cfg.coding
    return MRCConfig(bits_per_block=int(c.bits_per_block), candidates_log2=c.candidates_log2,
                     chunk_log2=int(c.chunk_log2), selection=c.selection,
                     finetune_steps=int(c.finetune_steps), batch_size=int(cfg.dataset.batch_size),
                     lr=float(cfg.method.lr), checkpoint_seconds=float(c.checkpoint_seconds),
                     stop_after=c.stop_after)


CODERS = {"miracle": "mrc", "bayes": "csr_huffman", "baseline": "none"}


def train(cfg: DictConfig, run_dir: Path) -> dict:
    start = time.perf_counter()
    if cfg.coding.name == "auto":
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.coding.name = CODERS[cfg.method.family]
    if cfg.coding.name == "mrc" and cfg.method.family != "miracle":  # fail before training, not after
        raise UserError(f"coding=mrc codes MIRACLE posteriors (method=meanvar|meankl); "
                        f"use coding=csr_huffman or coding=none with method={cfg.method.name}")
    if cfg.coding.name == "csr_huffman" and cfg.method.family != "bayes":
        raise UserError("coding=csr_huffman codes method=vd|sws|vd_sws; use coding=mrc or none")
    L.seed_everything(int(cfg.seed), verbose=False)
    dm = build_datamodule(cfg)
    network = CodedNetwork(build_spec(cfg, dm))
    module = build_method(cfg, network, n_train=len(dm.x_train))
    loggers = build_loggers(cfg, run_dir)
    state_path = run_dir / "coding_state.pt"
    record = {"task": "train", "method": cfg.method.name, "model": cfg.model.name, "dataset": cfg.dataset.name,
              "seed": int(cfg.seed), "train_steps": int(cfg.method.train_steps), "scale": cfg.scale.name,
              "n_params": network.n_params, "n_coded_params": network.n_coded}

    if not state_path.exists():  # a state file means training finished and coding began
        trainer = build_trainer(cfg, run_dir, loggers, dm.has_val)
        last = run_dir / "checkpoints" / "last.ckpt"
        trainer.fit(module, datamodule=dm, ckpt_path=str(last) if last.exists() else None)
    module.to(dm.device)
    module.setup("test")
    module.eval()
    record["train_seconds"] = time.perf_counter() - start
    test_loader = dm.test_dataloader()
    network.to(dm.device)
    err_uncompressed = test_error(module.predict, None, test_loader)
    record["test_error_uncompressed"] = err_uncompressed
    record["test_error"] = err_uncompressed
    step = int(cfg.method.train_steps)

    if cfg.method.family == "bayes":
        record["nonzero_fraction"] = module.nonzero_fraction()
    if cfg.coding.name == "csr_huffman":
        record.update(_code_deep(cfg, run_dir, module, network, dm))
        record["test_error"] = record["test_error_compressed"]
    if cfg.coding.name == "mrc" and cfg.method.family == "miracle":
        try:
            record.update(_code(cfg, run_dir, module, network, dm, loggers, state_path, step))
        except CodingPaused as exc:
            print(f"{exc}; state saved in {state_path}. Resume with the same command and hydra.run.dir={run_dir}")
            return {"status": "paused", "test_error": None}
        record["test_error"] = record["test_error_compressed"]

    _log_metrics(loggers, {"test/error_uncompressed": err_uncompressed, "test/error": record["test_error"]},
                 step=step + 1)
    for lg in loggers:
        lg.finalize("success")
    record["wall_seconds"] = time.perf_counter() - start
    write_results(run_dir, record)
    log.info("test error %.2f %% (uncompressed %.2f %%)", record["test_error"], err_uncompressed)
    return record


def _code_deep(cfg, run_dir, module, network, dm) -> dict:
    """Quantise, remove empty units, write model.nnc (CSR + Huffman), evaluate what decodes."""
    c = cfg.coding
    indices, biases, codebook = module.quantised(vd_clusters=int(c.vd_clusters), drop_rate=float(c.drop_rate))
    spec = network.spec
    comp = build_compressed(spec.name, (spec.in_channels, spec.num_classes, spec.image_size), indices, biases,
                            codebook, int(c.index_bits))
    payload, bits = comp.to_bytes()
    path = run_dir / "model.nnc"
    nbytes = write_container(path, "csr_huffman", payload)
    _, raw = read_container(path)
    decoded = CompressedNet.from_bytes(raw).build().to(dm.device)
    err = test_error(decoded, None, dm.test_dataloader())
    counted = sum(bits[k] for k in ("values_bits", "index_bits", "row_ptr_bits", "codebook_bits", "bias_bits"))
    nonzero = sum(int((i != 0).sum()) for i in comp.indices)
    n_weights = sum(i.numel() for i in indices)
    return {"test_error_compressed": err, "compressed_bytes": nbytes, "ratio_file": 32 * network.n_params / (8 * nbytes),
            "ratio_paper": 32 * network.n_params / counted, "nonzero_fraction": nonzero / n_weights,
            "unique_values": int(len(comp.codebook)), "widths": comp.widths(), **bits}


def _code(cfg, run_dir, module, network, dm, loggers, state_path, step) -> dict:
    t0 = time.perf_counter()
    mcfg = mrc_config(cfg)
    if not state_path.exists():
        with torch.no_grad():
            kl_bits = (module.block_kl(*module.moments()) / math.log(2)).cpu()
        kl_before = {"kl_bits_per_block_mean": float(kl_bits.mean()), "kl_bits_per_block_max": float(kl_bits.max())}
    else:
        kl_before = None
    finetune_per_block = max(mcfg.finetune_steps, 0)
    encoder = MRCEncoder(module, dm.x_train, dm.y_train, mcfg, seed=int(cfg.seed), state_path=state_path,
                         progress=bool(cfg.coding.progress),
                         on_block=lambda b, m: _log_metrics(loggers, m, step + 1 + b * max(finetune_per_block, 1)))
    if kl_before is not None:
        encoder.stats.update(kl_before)
    payload = encoder.run()
    path = run_dir / "model.mrc"
    nbytes = write_container(path, "mrc", payload.to_bytes())
    stats = encoder.stats
    # Evaluate what a decoder rebuilds from the bytes on disk, not the encoder's own copy.
    _, raw = read_container(path)
    decoded_net, weights = decode_weights(MRCPayload.from_bytes(raw))
    sha = weights_sha256(weights)
    if sha != weights_sha256(module.fixed_values):
        raise RuntimeError("decoded weights differ from the encoder's: the coder is not bit-exact")
    err = test_error(decoded_net.to(dm.device), weights.to(dm.device), dm.test_dataloader())
    np.savez(run_dir / "posterior.npz", mu=module.coded_mu.cpu().numpy(),
             log_sigma=module.coded_sigma.clamp_min(1e-30).log().cpu().numpy(),
             sample=weights.numpy(), layer=network.layer_of.cpu().numpy(),
             layer_names=np.array(network.net.layer_names))
    _log_posterior_histograms(loggers, module, network)
    if cfg.pruning.after_train and cfg.pruning.strategies:
        curves = curves_for_run(run_dir, cfg.pruning, dm)
        write_results(run_dir, curves, name="pruning.json")
        _log_pruning_curves(loggers, curves)
    n_blocks = module.partition.n_blocks
    bits = mcfg.bits_per_block
    return {
        "test_error_compressed": err, "block_size": module.partition.block_size, "bits_per_block": bits,
        "n_blocks": n_blocks, "compressed_bytes": nbytes, "weights_sha256": sha,
        "ratio_paper": 32 * network.n_params / (n_blocks * bits),
        "ratio_file": 32 * network.n_params / (8 * nbytes),
        "candidates_log2": int(math.log2(mcfg.n_candidates)), "finetune_steps": mcfg.finetune_steps,
        "selection": mcfg.selection,
        "kl_bits_per_block_mean": stats.get("kl_bits_per_block_mean"),
        "kl_bits_per_block_max": stats.get("kl_bits_per_block_max"),
        "kl_bits_at_coding_mean": float(np.mean(stats["kl_bits"])),
        "search_seconds": stats["search_seconds"], "finetune_seconds": stats["finetune_seconds"],
        "coding_seconds": time.perf_counter() - t0,
    }
