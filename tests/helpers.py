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


def py2_pickle(obj) -> bytes:
    """``obj`` pickled as the 2009 CIFAR files were, by Python 2 (protocol 2): every str and bytes as
    a Python 2 str (BINSTRING, so ``encoding="latin1"`` reads str keys, as torchvision does, and
    ``encoding="bytes"`` bytes keys), numpy arrays under the ``numpy.core.multiarray`` path."""
    import io
    import pickle
    import struct

    class Py2Pickler(pickle._Pickler):
        dispatch = pickle._Pickler.dispatch.copy()

        def save_py2_str(self, value):
            data = value.encode("latin-1") if isinstance(value, str) else bytes(value)
            if len(data) < 256:
                self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
            else:
                self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
            self.memoize(value)

        dispatch[str] = save_py2_str
        dispatch[bytes] = save_py2_str

    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def write_cifar(root, classes: int = 10, per_batch: int = 40, n_test: int = 40, seed: int = 0):
    """A small, format-true CIFAR-10 / CIFAR-100 under `root`, extracted, in torchvision's layout
    (`cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}` or
    `cifar-100-python/{train, test, meta}`): Python-2 pickled dicts of uint8 [n, 3072] images and
    labels. Their md5s are not the official ones: read them with `dataset.check_md5=false`
    (CIFAR_FILES below). Returns root."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def pickled(n, label_key):
        labels = rng.integers(0, classes, n)
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        # the red channel encodes the class, so a network can learn it
        data[:, :1024] = (labels[:, None] * 255 // max(classes - 1, 1)).astype(np.uint8)
        d = {"data": data, label_key: labels.tolist()}
        if classes == 100:
            d["coarse_labels"] = (labels // 5).tolist()
        return py2_pickle(d)

    if classes == 10:
        folder = Path(root) / "cifar-10-batches-py"
        members = {f"data_batch_{i}": pickled(per_batch, "labels") for i in range(1, 6)}
        members["test_batch"] = pickled(n_test, "labels")
        members["batches.meta"] = py2_pickle({"label_names": [f"class{k}" for k in range(10)]})
    else:
        folder = Path(root) / "cifar-100-python"
        members = {"train": pickled(5 * per_batch, "fine_labels"), "test": pickled(n_test, "fine_labels"),
                   "meta": py2_pickle({"fine_label_names": [f"f{k}" for k in range(100)],
                                       "coarse_label_names": [f"c{k}" for k in range(20)]})}
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in members.items():
        (folder / name).write_bytes(payload)
    return Path(root)


# The override that lets the CLI read write_cifar's files (their md5s are not the official ones).
CIFAR_FILES = "dataset.check_md5=false"
