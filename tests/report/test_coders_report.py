"""Issue 23: the coders' report on a real tiny sweep of experiments/mkl_coders.yaml (synthetic
data, one trained posterior per budget coded by MRC, ORC and PFR) and the exact-Gaussian table."""
import json
import math

import pytest

from helpers import run_main
from nncompress.core import divergence
from nncompress.report.__main__ import main as report_main
from nncompress.report.papers import mkl_coders

SYNTH = ["dataset=synthetic", "dataset.device=cpu", "block=200", "method.train_steps=30",
         "method.budget_warmup.factor=1.0", "method.budget_warmup.steps=0",
         "method.lr_gamma_factor=1.0", "coding.progress=false", "trainer.progress_bar=false"]


@pytest.mark.slow
def test_report_on_a_tiny_coders_sweep(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    proc = run_main(["-m", "experiment=mkl_coders", "scale=quick", *SYNTH, "point=mrc_c10,orc_c10,pfr_c10",
                     f"paths.pretrained_dir={tmp_path / 'trained'}", f"hydra.sweep.dir={sweep}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "trained").iterdir())) == 1  # one posterior, trained once
    monkeypatch.setitem(mkl_coders.GAUSSIAN, "blocks", 120)
    monkeypatch.setitem(mkl_coders.GAUSSIAN, "kl_bits", (6,))
    assert report_main([str(sweep)]) == 0
    out = sweep / "report"
    for name in ("coders.md", "coders.tex", "coders_equal_size.md", "coders.png", "coders.pdf", "coders_gaussian.md",
                 "coders_gaussian.tex"):
        assert (out / name).stat().st_size > 0, name
    from nncompress.report.collect import collect

    runs = mkl_coders.coded_runs(collect(sweep)).set_index("coder")
    assert sorted(runs.index) == ["mrc", "orc", "pfr"] and set(runs["n_blocks"]) == {125}
    assert runs["kl"].to_numpy() == pytest.approx(10.0, abs=1e-3)  # Mean-KL: the budget in every block
    assert runs["error_before"].nunique() == 1  # the same trained posterior
    for c in ("mrc", "orc"):  # MRC and ORC: exactly KL + t bits (t = 0), every block
        assert runs.loc[c, "bits"] == 10 and runs.loc[c, "bits_sd"] == 0 and runs.loc[c, "within"] == 1
    assert runs.loc["mrc", "bytes"] == runs.loc["orc", "bytes"]
    pfr = runs.loc["pfr"]  # Li & El Gamal: mean length within KL + log2(KL + 1) + 4, E log2 K within KL + 1.53
    assert pfr["bits"] <= 10 + math.log2(11) + 4 and pfr["log2k"] <= 10 + 1 + math.log2(math.e) / math.e
    assert pfr["candidates_log2"] == 12
    md = (out / "coders.md").read_text()
    assert f"| 10 | PFR | 10.000 | {pfr['bits']:.2f} (sd {pfr['bits_sd']:.2f}) | 17.46 |" in md
    rows = json.loads((out / "coders_gaussian.json").read_text())
    assert {(r["coder"], r["dim"]) for r in rows} == {(c, d) for c in ("mrc", "orc", "pfr") for d in (1, 2)}
    floor = divergence.floor(120, 10)
    for r in rows:
        assert (r["tv_floor"], r["kl_floor_bits"]) == floor
        assert ("tv_radial" in r) == (r["dim"] == 2)
        assert r["bits"] == 6 if r["coder"] != "pfr" else r["bits"] <= r["bits_bound"]
    by = {(r["coder"], r["dim"]): r for r in rows}
    # With N = 2^KL candidates (t = 0) MRC's sample is far from q; PFR searching 2^(KL+2) is near its floor
    assert by[("pfr", 1)]["tv_marginal"] < by[("mrc", 1)]["tv_marginal"]


def test_error_at_equal_size_interpolates_in_log_bytes_and_never_extrapolates():
    import pandas as pd

    runs = pd.DataFrame([
        {"coder": "mrc", "budget": 10, "bytes": 1000, "error_after": 30.0},
        {"coder": "mrc", "budget": 14, "bytes": 4000, "error_after": 10.0},
        {"coder": "pfr", "budget": 10, "bytes": 2000, "error_after": 15.0},
        {"coder": "pfr", "budget": 14, "bytes": 8000, "error_after": 5.0}])
    rows = {(c, b): others for c, b, _, _, others in mkl_coders.at_equal_size(runs)}
    # 2000 B lies halfway between 1000 and 4000 in log(bytes): MRC's error there is the mean, 20 %
    assert rows["pfr", 10] == {"mrc": pytest.approx(20.0)}
    assert rows["pfr", 14] == {"mrc": None}  # 8000 B: beyond MRC's largest file
    assert rows["mrc", 14] == {"pfr": pytest.approx(10.0)}  # 4000 B: halfway between 2000 and 8000
    assert rows["mrc", 10] == {"pfr": None}
    md = mkl_coders.equal_size_table(mkl_coders.at_equal_size(runs))
    assert "| PFR | 10 | 2,000 | 15.00 % | 20.00 % | — |" in md and "ORC" not in md and "outside its range" in md
