"""The same command writes the same bytes: files pinned in tests/expected/golden_files.json (before
the family restructuring) are written again byte for byte, results.json keeps its keys, and the
old files decode."""
import hashlib
import json

import pytest
import torch

from helpers import ROOT, run_cli

GOLDEN = json.loads((ROOT / "tests" / "expected" / "golden_files.json").read_text())
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    GOLDEN["torch"] != torch.__version__.split("+")[0],
    reason=f"golden files are pinned for torch {GOLDEN['torch']} (float kernels differ between builds)")]


@pytest.mark.parametrize("case,filename", [("synthetic_mrc", "model.mrc"), ("synthetic_nnc", "model.nnc")])
def test_same_command_same_bytes(case, filename, tmp_path):
    golden = GOLDEN[case]
    proc = run_cli([*golden["args"], f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert hashlib.sha256((tmp_path / filename).read_bytes()).hexdigest() == golden["sha256"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(golden["results_keys"]) <= set(results)  # keys may be added, never renamed
    assert results["compressed_bytes"] == golden["bytes"]
    assert results["test_error_compressed"] == golden["test_error_compressed"]
    # The file decodes in a fresh process to the network its encoder evaluated.
    dec = run_cli(["dataset=synthetic", "dataset.device=cpu", "task=decode", f"file={tmp_path / filename}",
                   f"hydra.run.dir={tmp_path / 'decode'}"])
    assert dec.returncode == 0, dec.stderr[-3000:]
    record = json.loads((tmp_path / "decode" / "decode.json").read_text())
    assert record["test_error"] == golden["test_error_compressed"]
    assert record["weights_sha256"] == results["weights_sha256"]
