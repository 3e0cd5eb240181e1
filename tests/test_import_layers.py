"""The layers of DESIGN.md hold: import-linter's contracts in pyproject.toml are all kept (lower
layers never import higher ones, families are independent, no import cycles)."""
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
