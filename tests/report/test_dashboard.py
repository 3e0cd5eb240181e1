"""The report's W&B run (report/dashboard.py) without W&B: markdown tables read back cell for cell,
the sweep's group, opt-in and auto-on, and a clear message where wandb is not installed."""
import json
import sys

import pandas as pd
from omegaconf import OmegaConf

from nncompress.report.__main__ import main
from nncompress.report.dashboard import markdown_tables, report_group
from nncompress.tasks.dashboard import sweep_group

# The header of paper 001's Table 2 holds bare '|' inside a cell.
TABLE2 = """| Model | Method | Acc % | |W≠0|/|W| % | CR (paper acct.) |
|---|---|---|---|---|
| LeNet-300-100 | L2 | 98.12 ± 0.05 | 100.0 ± — | 1 |
| LeNet-300-100 | VD |  | 1.6 ± 0.1 | 131 |

Failed or missing jobs:
- missing: method=sws seed=0 — no results.json

| a | b |
|:--|--:|
| 1 | 2 |
"""


def test_markdown_tables_keep_every_cell():
    (cols, rows), (cols2, rows2) = markdown_tables(TABLE2)
    assert cols == ["Model", "Method", "Acc %", "|W≠0|/|W| %", "CR (paper acct.)"]
    assert rows == [["LeNet-300-100", "L2", "98.12 ± 0.05", "100.0 ± —", "1"],
                    ["LeNet-300-100", "VD", "", "1.6 ± 0.1", "131"]]
    assert (cols2, rows2) == (["a", "b"], [["1", "2"]])
    assert markdown_tables("no table | here\n\n| x |\n") == []


def test_report_group_is_the_jobs_group(tmp_path):
    sweep = tmp_path / "ibc_table2" / "2026-01-31_12-00-00"
    recorded = pd.DataFrame({"wandb_group": ["mine", None, "mine"]})
    assert report_group(sweep, recorded) == "mine"
    # No job recorded one (or they disagree): the jobs' own rule on the sweep dir.
    for df in (pd.DataFrame({"status": ["ok"]}), pd.DataFrame({"wandb_group": ["a", "b"]})):
        assert report_group(sweep, df) == sweep_group(sweep) == "ibc_table2_2026-01-31_12-00-00"


def _fake_sweep(root, wandb: bool):
    """A sweep dir with one finished baseline job (no paper report applies: nothing slow to draw)."""
    job = root / "job0"
    (job / ".hydra").mkdir(parents=True)
    logger = {"wandb": {"project": "p", "offline": True}} if wandb else {"wandb": None}
    OmegaConf.save(OmegaConf.create({"method": {"name": "baseline"}, "seed": 0, "logger": logger}),
                   job / ".hydra" / "config.yaml")
    (job / "results.json").write_text(json.dumps({"method": "baseline", "seed": 0, "test_error": 1.5}))
    return root


def test_without_wandb_installed_the_report_still_writes_and_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    sweep = _fake_sweep(tmp_path / "sweep", wandb=True)
    assert main([str(sweep), "--wandb"]) == 1  # asked for, not possible
    err = capsys.readouterr().err
    assert "wandb is not installed" in err and "pip install wandb" in err
    assert (sweep / "report" / "results.csv").exists() and not (sweep / "wandb").exists()
    assert main([str(sweep)]) == 0  # auto-on (the job logged to W&B): the same message, no failure
    assert "wandb is not installed" in capsys.readouterr().err


def test_wandb_is_opt_in(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # any attempt to log would print the message
    for sweep, args in ((_fake_sweep(tmp_path / "csv", wandb=False), []),
                        (_fake_sweep(tmp_path / "off", wandb=True), ["--no-wandb"])):
        assert main([str(sweep), *args]) == 0
        assert "wandb" not in capsys.readouterr().err
        assert (sweep / "report" / "results.csv").exists() and not (sweep / "wandb").exists()
