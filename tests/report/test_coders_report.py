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
    for name in ("coders.md", "coders.tex", "coders_equal_size.md", "coders_equal_size.tex", "coders.png", "coders.pdf",
                 "coders_gaussian.md", "coders_gaussian.tex"):
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
    assert f"| 10 | PFR | 125 | 10.000 | {pfr['bits']:.2f} (sd {pfr['bits_sd']:.2f}) | 17.46 |" in md
    rows = json.loads((out / "coders_gaussian.json").read_text())
    assert {(r["coder"], r["dim"]) for r in rows} == {(c, d) for c in ("mrc", "orc", "pfr", "sppfr") for d in (1, 2)}
    floor = divergence.floor(120, 10)
    for r in rows:
        assert (r["tv_floor"], r["kl_floor_bits"]) == floor
        assert ("tv_radial" in r) == (r["dim"] == 2)
        assert r["bits"] == 6 if r["coder"] in ("mrc", "orc") else r["bits"] <= r["bits_bound"]
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
    md, tex = mkl_coders.equal_size_table(mkl_coders.at_equal_size(runs))
    assert "| PFR | 10 | 2,000 | 15.00 % | 20.00 % | — |" in md and "ORC" not in md and "outside its range" in md
    assert r"PFR & 10 & 2{,}000 & 15.00 \% & 20.00 \% & --- \\" in tex  # the same table for the paper


def _coding_job(root, name, coder, bits, indices, kl_bits, search_s, log2n=None, stop_after=None, **record):
    """A run dir as a coding job leaves it: .hydra/config.yaml, coding_state.pt, and results.json
    (finished) or paused.json (tasks/train.py: paused by coding.stop_after)."""
    import torch
    from omegaconf import OmegaConf

    run = root / name
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save({"method": {"name": "meankl"}, "model": {"name": "lenet5_hashed"}, "block": 10, "seed": 0,
                    "point": name, "coding": {"name": coder, "bits_per_block": bits, "candidates_log2": log2n,
                                              "stop_after": stop_after}}, run / ".hydra" / "config.yaml")
    torch.save({"indices": indices, "stats": {"kl_bits": kl_bits, "search_seconds": search_s}}, run / "coding_state.pt")
    (run / ("paused.json" if stop_after else "results.json")).write_text(json.dumps(record))
    return run


def test_partial_runs_give_per_block_rows_and_no_file_or_error(tmp_path):
    """A job paused after its first blocks (coding.stop_after) is a partial row: bits, KL, bound and
    search time over the blocks it coded; bytes and error after coding shown as '—', never invented,
    and left out of the equal-size comparison and the error-against-bytes panel."""
    from nncompress.coding import expgolomb
    from nncompress.report.collect import collect

    full = {"n_coded_params": 100, "test_error_uncompressed": 3.0, "compressed_bytes": 200,
            "test_error_compressed": 5.0, "coding_seconds": 9.0, "search_seconds": 4.0}
    _coding_job(tmp_path, "mrc_c10", "mrc", 10, list(range(10)), [10.0] * 10, 4.0, **full)
    _coding_job(tmp_path, "pfr_c10", "pfr", 10, [0] * 10, [10.0] * 10, 5.0, log2n=12,
                **{**full, "compressed_bytes": 230, "test_error_compressed": 4.0, "golomb_order": 0})
    # PFR at C = 20, paused after 3 of the 10 blocks: indices 5, 1000, 70000 (their best order is 10)
    paused = {"n_coded_params": 100, "test_error_uncompressed": 2.5, "paused": "coding paused after block 3 of 10"}
    _coding_job(tmp_path, "pfr_c20_first3", "pfr", 20, [5, 1000, 70000], [20.0, 20.1, 19.9], 6.0, log2n=22,
                stop_after=3, **paused)
    df = collect(tmp_path)
    assert dict(zip(df["point"], df["status"])) == {"mrc_c10": "ok", "pfr_c10": "ok", "pfr_c20_first3": "paused"}
    runs = mkl_coders.coded_runs(df)
    part = runs[runs["budget"] == 20].iloc[0]
    order = expgolomb.best_order([5, 1000, 70000], 22)
    assert order == 10  # order 10: 11 + 11 + 23 = 45 bits; order 11: 12 + 12 + 22 = 46
    assert [expgolomb.code_length(k, 10) for k in (5, 1000, 70000)] == [11, 11, 23]
    assert part["partial"] and part["n_blocks"] == 3 and part["total_blocks"] == 10
    assert part["bits"] == pytest.approx(15.0) and part["kl"] == pytest.approx(20.0)
    assert part["bound"] == pytest.approx(sum(k + math.log2(k + 1) + 4 for k in (20.0, 20.1, 19.9)) / 3)
    assert math.isnan(part["bytes"]) and math.isnan(part["error_after"]) and part["error_before"] == 2.5
    assert part["search_s"] == 6.0 and part["candidates_log2"] == 22
    md, tex = mkl_coders.coders_table(runs)
    row = next(line for line in md.splitlines() if line.startswith("| 20 |"))
    # bits 15.00, s.d. sqrt(32) = 5.66; mean log2(k + 1) = (log2 6 + log2 1001 + log2 70001) / 3 = 9.55
    assert row == ("| 20 | PFR | 3 of 10 | 20.000 | 15.00 (sd 5.66) | 28.39 | 100.0 % | 9.55 | 21.53 | 2^22 | — "
                   "| 2.50 % | — | 2.0000 |")
    assert "| 10 | MRC | 10 | 10.000 | 10.00 | 10.00 | 100.0 % |" in md and "| 200 | 3.00 % | 5.00 % |" in md
    assert "need all N blocks" in md
    assert r"3 of 10 & 20.000 & 15.00 (sd 5.66) & 28.39 & 100.0 \% & 9.55 & 21.53 & 2\^{}22 & --- &" in tex
    # equal size: the two full rows only (each outside the other's single-point range)
    assert [(c, b) for c, b, *_ in mkl_coders.at_equal_size(runs)] == [("mrc", 10), ("pfr", 10)]
    assert [p.suffix for p in mkl_coders.coders_figure(runs, tmp_path / "fig")] == [".png", ".pdf"]


def _point_settings(base, point):
    """(coder, C, log2 of the candidate bound, stop_after, block, fine-tuning steps, fused at the
    hashed LeNet-5's 2,483 blocks of 10) of one point of the recipe, composed as its job is."""
    from omegaconf import OmegaConf

    from helpers import compose_cfg
    from nncompress.methods.mkl.family import mrc_settings

    cfg = compose_cfg([*base, *OmegaConf.to_container(compose_cfg(base).hydra.sweeper.points)[point]])
    s = mrc_settings(cfg)
    return (s.name, s.bits_per_block, s.n_candidates.bit_length() - 1, s.stop_after, int(cfg.block),
            s.finetune_steps, s.use_fused(2483))


def test_quick_overlay_composes_to_c10_12_whole_and_c20_30_on_their_first_blocks():
    from helpers import compose_cfg

    quick = ["experiment=mkl_coders", "scale=quick"]
    assert list(compose_cfg(quick).hydra.sweeper.only) == [
        "mrc_c10", "orc_c10", "pfr_c10", "mrc_c20_first100", "orc_c20_first100", "pfr_c20_first100",
        "mrc_c12", "orc_c12", "pfr_c12", "mrc_c30_first2", "orc_c30_first2", "pfr_c30_first2"]
    # blocks of 10 and no fine-tuning at every budget; PFR searches 2^(C+2); the fused kernel from C = 20
    # (2,483 x 2^20 >= 2^26 candidates), eager below; C = 20 / 30 pause after 100 / 2 blocks
    assert _point_settings(quick, "pfr_c10") == ("pfr", 10, 12, None, 10, 0, False)
    assert _point_settings(quick, "orc_c12") == ("orc", 12, 12, None, 10, 0, False)
    assert _point_settings(quick, "mrc_c20_first100") == ("mrc", 20, 20, 100, 10, 0, True)
    assert _point_settings(quick, "pfr_c20_first100") == ("pfr", 20, 22, 100, 10, 0, True)
    assert _point_settings(quick, "orc_c30_first2") == ("orc", 30, 30, 2, 10, 0, True)
    assert _point_settings(quick, "pfr_c30_first2") == ("pfr", 30, 32, 2, 10, 0, True)
    paper = ["experiment=mkl_coders"]  # the paper's recipe: C = 10 / 20 / 30 whole, blocks of 30, 100 steps
    assert list(compose_cfg(paper).hydra.sweeper.only) == [
        f"{c}_c{b}" for b in (10, 20, 30) for c in ("mrc", "orc", "pfr")]
    assert _point_settings(paper, "pfr_c30") == ("pfr", 30, 32, None, 30, 100, True)
    assert _point_settings(paper, "mrc_c10") == ("mrc", 10, 10, None, 30, 100, False)
