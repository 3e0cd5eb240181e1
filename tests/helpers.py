"""Shared test helpers: run the CLI in a fresh process, compose a config in-process."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# Tiny runs on the synthetic data set: seconds per job on a CPU.
SYNTHETIC = ["dataset=synthetic", "dataset.device=cpu", "scale=quick", "trainer.progress_bar=false"]


def cli_command(args, data_dir=None, module=None) -> tuple:
    """(argv, env) of `python run.py ARGS` (or `python -m MODULE ARGS`), to run from the repo root
    with a clean environment: HOME outside the repo, W&B offline and silent, NNCOMPRESS_DATA as given."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path(tempfile.gettempdir()) / "nncompress-test-home"),
           "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    data = data_dir or os.environ.get("NNCOMPRESS_DATA")
    if data:
        env["NNCOMPRESS_DATA"] = str(data)
    return [sys.executable, *(["-m", module] if module else ["run.py"]), *map(str, args)], env


def run_cli(args, data_dir=None, timeout=900, module=None) -> subprocess.CompletedProcess:
    """`python run.py ARGS` (or `python -m MODULE ARGS`) in a fresh process (see cli_command)."""
    cmd, env = cli_command(args, data_dir, module)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def compose_cfg(overrides=(), hydra=True):
    """The composed config of `python run.py OVERRIDES` (with the hydra node when `hydra`)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from nncompress.tasks.config import register_schemas

    register_schemas()
    if GlobalHydra.instance().is_initialized():  # inside quick_cfg's context
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


def write_cifar(root, classes: int = 10, per_batch: int = 40, n_test: int = 40, seed: int = 0):
    """A small, format-true CIFAR-10 / CIFAR-100 under `root` in the folder the datamodules read
    (`CIFAR10/raw/cifar-10-batches-py/` or `CIFAR100/raw/cifar-100-python/`, extracted, so no md5
    applies): Python-2-style pickled dicts of uint8 [n, 3072] images and labels. Returns root."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)

    def pickled(n, label_key):
        labels = rng.integers(0, classes, n)
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        # the red channel encodes the class, so a network can learn it
        data[:, :1024] = (labels[:, None] * 255 // max(classes - 1, 1)).astype(np.uint8)
        d = {b"data": data, label_key: labels.tolist()}
        if classes == 100:
            d[b"coarse_labels"] = (labels // 5).tolist()
        return pickle.dumps(d, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")

    if classes == 10:
        folder = Path(root) / "CIFAR10" / "raw" / "cifar-10-batches-py"
        members = {f"data_batch_{i}": pickled(per_batch, b"labels") for i in range(1, 6)}
        members["test_batch"] = pickled(n_test, b"labels")
    else:
        folder = Path(root) / "CIFAR100" / "raw" / "cifar-100-python"
        members = {"train": pickled(5 * per_batch, b"fine_labels"), "test": pickled(n_test, b"fine_labels")}
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in members.items():
        (folder / name).write_bytes(payload)
    return Path(root)
