"""The Python API example in the README runs as written (issue 19)."""
import re

import pytest

from helpers import ROOT

pytestmark = pytest.mark.slow


def test_readme_api_example_runs_as_written(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- api-example -->\n```python\n(.*?)```\n<!-- /api-example -->", text, re.S)
    assert block, "the README's api-example block is missing"
    monkeypatch.chdir(tmp_path)  # the example writes net.safetensors and net.onnx beside it
    namespace = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    result, net = namespace["result"], namespace["net"]
    assert result.path.stat().st_size == result["compressed_bytes"]
    assert (tmp_path / "net.safetensors").stat().st_size > 0 and (tmp_path / "net.onnx").stat().st_size > 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.endswith(str(result.path))]
    printed = lines[-1].split()  # the example's print, among the progress bars
    assert float(printed[0]) == result["test_error"] and int(printed[1]) == result["compressed_bytes"]
    assert sum(p.numel() for p in net.parameters()) == result["n_params"]
