"""The layers of DESIGN.md hold: import-linter's contracts in pyproject.toml are all kept (lower
layers never import higher ones, families are independent, no import cycles), and so do ruff's rules."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT


def test_import_contracts_are_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        exe = shutil.which("lint-imports")
        if exe is None:
            pytest.skip(reason="import-linter is not installed (it comes with the [dev] extra)")
    proc = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_ruff_finds_nothing():
    """`make lint`'s style and import-order rules (pyproject.toml, [tool.ruff]) hold on every file,
    so that a merge which breaks them fails the suite, not a later lint run."""
    if subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0:
        pytest.skip(reason="ruff is not installed (it comes with the [dev] extra)")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "run.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
