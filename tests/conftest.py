"""Fixtures for the data tests: where the real MNIST / Fashion-MNIST files live."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """NNCOMPRESS_DATA if set, else the shared folder next to the repo (/work/shared/data)."""
    env = os.environ.get("NNCOMPRESS_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(reason=f"real data folder absent: {root / 'MNIST' / 'raw'}")
    return root
