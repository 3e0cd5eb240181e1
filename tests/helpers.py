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


def run_cli(args, data_dir=None, timeout=900, module=None) -> subprocess.CompletedProcess:
    """`python run.py ARGS` (or `python -m MODULE ARGS`) from the repo root with a clean environment:
    HOME outside the repo, W&B offline and silent, NNCOMPRESS_DATA as given."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path(tempfile.gettempdir()) / "nncompress-test-home"),
           "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    data = data_dir or os.environ.get("NNCOMPRESS_DATA")
    if data:
        env["NNCOMPRESS_DATA"] = str(data)
    cmd = [sys.executable, *(["-m", module] if module else ["run.py"]), *map(str, args)]
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
