"""Fixtures shared by the suite: the real data folder, a quick in-process config, the GPU marker."""
import os
from pathlib import Path

import pytest
import torch

from helpers import CONF, SYNTHETIC, compose_cfg


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.gpu` tests skip, with the reason, where no CUDA device is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is faster, and immune to OpenMP stalls on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """NNCOMPRESS_DATA if set, else the shared folder next to the repo (/work/shared/data)."""
    env = os.environ.get("NNCOMPRESS_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(reason=f"real data folder absent: {root / 'MNIST' / 'raw'}")
    return root


@pytest.fixture
def quick_cfg():
    """quick_cfg(*overrides): the config of a tiny synthetic-data run, composed in-process, with
    Hydra's runtime set so that tasks can recompose it (init_from=auto, coding=auto)."""
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    def make(*overrides):
        cfg = compose_cfg([*SYNTHETIC, *overrides])
        HydraConfig.instance().set_config(cfg)
        return cfg

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):  # tasks recompose inside it
        yield make
    HydraConfig.instance().cfg = None
