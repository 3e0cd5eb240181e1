"""Paper 003's report: each figure from rows shaped like rd results.json, its table and the
claim lines computed from the points."""
import json

import pandas as pd

from nncompress.methods.rd.figure6 import figure6_data
from nncompress.report.papers import REPORTS, discover


def _rows(figure, operation, estimators, grid, dataset="mnist", extra=None):
    rows = []
    for e, imp in enumerate(estimators):
        for i, v in enumerate(grid):
            ratio = 1 / v if operation == "prune" else 32 / v
            acc = 90 - 10 * i + 2 * e  # later estimators better, more compression worse
            row = {"status": "ok", "method": "rd", "run_dir": "/nonexistent", "dataset": dataset, "model": "mlp",
                   "figure": figure, "operation": operation, "importance": imp, "ratio_paper": ratio,
                   "test_accuracy": acc, "test_ce": 0.1 + 0.1 * i - 0.01 * e, "test_accuracy_uncompressed": 98.0,
                   "test_ce_uncompressed": 0.06, ("keep" if operation == "prune" else "bits"): v}
            rows.append({**row, **(extra(e, i) if extra else {})})
    return rows


def test_curve_figure_table_and_claims(tmp_path):
    discover()
    df = pd.DataFrame(_rows("figure2", "prune", ["baseline", "fisher"], [0.05, 0.1, 0.2]) +
                      _rows("figure3", "quantize", ["baseline", "fisher"], [2, 4]))
    written = REPORTS["rd_figure2"].write(df, tmp_path)
    assert {p.name for p in written} == {"figure2.png", "figure2.pdf", "figure2_table.md", "figure2_table.tex"}
    md = (tmp_path / "figure2_table.md").read_text()
    assert "cross-entropy lower at 3/3 keep values, accuracy higher at 3/3" in md
    assert "| 0.05 | 20.0 | 90.00 | 0.1000 | 20.0 | 92.00 | 0.0900 |" in md
    assert "**Paper:** the proposed objective gives lower test cross-entropy" in md
    # figure 3's rows do not leak into figure 2, and figure 3 has its own files
    assert "bits" not in md
    assert {p.name for p in REPORTS["rd_figure3"].write(df, tmp_path)} >= {"figure3.png", "figure3_table.tex"}
    assert REPORTS["rd_figure4"].write(df, tmp_path) == []


def test_top5_panel_for_cifar100(tmp_path):
    discover()
    df = pd.DataFrame(_rows("figure9", "prune", ["baseline", "gradient"], [0.1, 0.3], dataset="cifar100",
                            extra=lambda e, i: {"test_top5_accuracy": 95 - i + e}))
    REPORTS["rd_figure9"].write(df, tmp_path)
    md = (tmp_path / "figure9_table.md").read_text()
    assert "Gradient top-5 %" in md and "CIFAR-100" in md


def test_temperature_sweep_finds_the_interior_maximum(tmp_path):
    discover()
    rows = []
    for keep in (0.05, 0.1):
        for t in range(1, 6):
            rows.append({"status": "ok", "method": "rd", "run_dir": "/x", "dataset": "mnist", "model": "mlp",
                         "figure": "figure11", "operation": "prune", "importance": "gradient", "keep": keep,
                         "temperature": float(t), "test_accuracy": 80 - (t - 3) ** 2, "test_ce": 0.5 + (t - 2) ** 2})
    written = REPORTS["rd_figure11"].write(pd.DataFrame(rows), tmp_path)
    assert (tmp_path / "figure11.png") in written
    md = (tmp_path / "figure11_table.md").read_text()
    assert "keep 0.05: best accuracy 80.00 % at temperature = 3 (inside the grid: rises then falls" in md
    assert "lowest CE at temperature = 2" in md


def test_figure6_from_theory_json(tmp_path):
    discover()
    run = tmp_path / "job"
    run.mkdir()
    (run / "theory.json").write_text(json.dumps(figure6_data([3, 2, 1], [3, 2, 1], [1.0, 6.0], n=20_000)))
    df = pd.DataFrame([{"status": "ok", "method": "rd", "run_dir": str(run), "dataset": "mnist", "model": "mlp",
                        "figure": "figure6", "operation": "theory"}])
    out = tmp_path / "report"
    out.mkdir()
    written = REPORTS["rd_figure6"].write(df, out)
    assert {p.name for p in written} == {"figure6.png", "figure6.pdf", "figure6_table.md", "figure6_table.tex"}
    md = (out / "figure6_table.md").read_text()
    assert "Kinks: (3, 2.5850), (9, 0.5850), (14, 0.0000)" in md and "every check passes" in md
