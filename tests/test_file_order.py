"""The order `make test` hands test files to its workers: longest first (tests/conftest.py)."""
import json
from pathlib import Path
from types import SimpleNamespace

from helpers import longest_first

DURATIONS = Path(__file__).with_name("durations.json")


def _items(*nodeids):
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_longest_file_first_whole_files_together_new_files_first():
    items = _items("a.py::t1", "b.py::t1", "a.py::t2", "c.py::t1", "d.py::t1", "b.py::t2", "e.py::t1")
    seconds = {"a.py": 5.0, "b.py": 300.0, "c.py": 5.0, "d.py": 40.0}  # e.py: not measured yet
    order = [it.nodeid for it in longest_first(items, seconds)]
    assert order == ["e.py::t1", "b.py::t1", "b.py::t2", "d.py::t1", "a.py::t1", "a.py::t2", "c.py::t1"]


def test_the_committed_durations_name_test_files_with_seconds():
    seconds = json.loads(DURATIONS.read_text())
    assert len(seconds) > 50 and all(f.startswith("tests/") and f.endswith(".py") for f in seconds)
    assert all(s >= 0 for s in seconds.values())


def test_write_durations_sums_each_files_phases(tmp_path):
    """`make test`'s --write-durations: one key per file run, its setup + call + teardown seconds."""
    import subprocess
    import sys

    out = tmp_path / "durations.json"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "tests/test_file_order.py::test_longest_file_first_whole_files_together_new_files_first",
                           "tests/core/test_blocks.py", "--write-durations", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:]
    seconds = json.loads(out.read_text())
    assert sorted(seconds) == ["tests/core/test_blocks.py", "tests/test_file_order.py"]
    assert all(0 <= s < 60 for s in seconds.values())
