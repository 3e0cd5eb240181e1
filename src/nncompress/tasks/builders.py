"""Small factories: config -> data module, architecture, method, trainer, loggers."""
from __future__ import annotations

import inspect
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

import torch
from torch import nn

from nncompress.errors import UserError
from nncompress.methods.baseline import BaselineModule
from nncompress.methods.bayes import BayesCompressModule
from nncompress.methods.miracle import MiracleModule
from nncompress.models.coded import ArchSpec, CodedNetwork
from nncompress.models.lenet import ARCHITECTURES

METHOD_FAMILIES = ("baseline", "miracle", "bayes")


def build_datamodule(cfg: DictConfig):
    dm = instantiate(cfg.dataset)
    dm.setup()
    return dm


def build_spec(cfg: DictConfig, dm) -> ArchSpec:
    c, h, _ = dm.input_shape
    raw = cfg.model.get("hashing")
    hashing = OmegaConf.to_container(raw, resolve=True) if raw is not None else {}
    return ArchSpec(cfg.model.name, hashing, int(c), int(dm.num_classes), int(h), int(cfg.model.hash_seed))


def load_baseline_into(net: nn.Module, path, spec: ArchSpec) -> None:
    """Initialise a plain architecture from a `method=baseline` run (its dir or a checkpoint)."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.exists():
        raise UserError(f"init_from: no checkpoint at {path} (train one with method=baseline coding=none)")
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    if "weights" not in state:
        raise UserError(f"init_from: {path} is not a method=baseline checkpoint")
    coded = CodedNetwork(spec)
    if state["weights"].numel() != coded.n_coded:
        raise UserError(f"init_from: {path} holds {state['weights'].numel()} weights, model {spec.name} needs {coded.n_coded}")
    net.load_state_dict({k: v.detach() for k, v in coded.expand(state["weights"]).items()})


def pretrain_baseline(cfg: DictConfig) -> Path:
    """init_from=auto: the baseline run of this model, dataset, seed and scale, trained once into
    paths.pretrained_dir and reused by every later job (run sweeps that share it sequentially)."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    from nncompress.tasks.train import train

    run_dir = Path(cfg.paths.pretrained_dir) / f"{cfg.dataset.name}_{cfg.model.name}_{cfg.scale.name}_s{cfg.seed}"
    if (run_dir / "results.json").exists():
        return run_dir
    keep = ("dataset", "model", "scale", "seed", "trainer", "paths")
    overrides = [o for o in HydraConfig.get().overrides.task if o.lstrip("+~").split("=")[0].split(".")[0] in keep]
    base = compose(config_name="config", overrides=[*overrides, "method=baseline", "coding=none", "logger=csv"])
    run_dir.mkdir(parents=True, exist_ok=True)
    train(base, run_dir)
    return run_dir


def build_method(cfg: DictConfig, network: CodedNetwork, n_train: int = 0):
    m = cfg.method
    if m.family == "bayes":
        net = ARCHITECTURES[network.spec.name](network.spec.in_channels, network.spec.num_classes,
                                               network.spec.image_size)
        if cfg.get("init_from"):
            source = pretrain_baseline(cfg) if cfg.init_from == "auto" else cfg.init_from
            load_baseline_into(net, source, network.spec)
        kwargs = OmegaConf.to_container(m.module, resolve=True)
        valid = set(inspect.signature(BayesCompressModule).parameters) - {"net", "n_train", "mode"}
        unknown = sorted(set(kwargs) - valid)
        if unknown:
            raise UserError(f"method.module: unknown key(s) {unknown}; valid: {sorted(valid)}")
        return BayesCompressModule(net, n_train=n_train, mode=m.mode, **kwargs)
    if m.family == "baseline":
        return BaselineModule(network, lr=m.lr, weight_decay=m.weight_decay)
    if m.family == "miracle":
        return MiracleModule(
            network, posterior=m.posterior, block_size=int(cfg.block),
            bits_per_block=int(cfg.coding.get("bits_per_block", 20)), partition_seed=int(cfg.seed),
            lr=m.lr, log_rho_init=m.log_rho_init, log_sigma_init=m.get("log_sigma_init", -10.0),
            beta_init=m.get("beta_init", 1e-8), beta_eps=m.get("beta_eps", 5e-5),
            beta_eps_coding=m.get("beta_eps_coding"), halley_steps=m.get("halley_steps", 0))
    raise ValueError(f"unknown method family '{m.family}'; choose one of {METHOD_FAMILIES}")


def build_loggers(cfg: DictConfig, run_dir: Path):
    loggers = [CSVLogger(save_dir=str(run_dir), name="", version="")]
    if cfg.logger.get("wandb"):
        loggers.append(instantiate(cfg.logger.wandb, save_dir=str(run_dir)))
    return loggers


def build_trainer(cfg: DictConfig, run_dir: Path, loggers, has_val: bool) -> L.Trainer:
    t = cfg.trainer
    checkpoint = ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), save_last=True, save_top_k=0,
                                 every_n_train_steps=int(t.checkpoint_every_n_steps))
    return L.Trainer(
        max_steps=int(cfg.method.train_steps), accelerator=t.accelerator, devices=1,
        logger=loggers, callbacks=[checkpoint], log_every_n_steps=int(t.log_every_n_steps),
        check_val_every_n_epoch=None, val_check_interval=int(t.val_check_interval) if has_val else None,
        limit_val_batches=None if has_val else 0, num_sanity_val_steps=0,
        enable_progress_bar=bool(t.progress_bar), enable_model_summary=False,
        default_root_dir=str(run_dir), precision=t.precision, deterministic=t.deterministic)
