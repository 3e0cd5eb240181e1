"""The frontier report (report/papers/frontier.py): the Pareto front, and the table and figure from a
points sweep laid out as Hydra writes it."""
import json

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from nncompress.report.__main__ import main
from nncompress.report.collect import collect
from nncompress.report.papers.frontier import pareto_front, points, styles, table

N = 431_080  # LeNet-5's parameters


def test_pareto_front_closed_form():
    # (1, 4) and (2, 3) trade off, (3, 5) is beaten by both, (4, 1) has the lowest error
    assert pareto_front([1, 2, 3, 4], [4, 3, 5, 1]).tolist() == [True, True, False, True]
    # equal x, lower y beats; equal y, lower x beats
    assert pareto_front([1, 1], [2, 3]).tolist() == [True, False]
    assert pareto_front([1, 2], [3, 3]).tolist() == [True, False]
    # identical points beat neither: both on the front
    assert pareto_front([2, 2, 5], [1, 1, 0.5]).tolist() == [True, True, True]
    # NaN is never on the front and beats nothing
    assert pareto_front([1, np.nan, 3], [np.nan, 0.1, 2]).tolist() == [False, False, True]
    # a chain where each point beats the next
    assert pareto_front([1, 2, 3], [1, 2, 3]).tolist() == [True, False, False]
    assert pareto_front([], []).tolist() == []


POINTS = {
    "l2": ["method=l2"],
    "meankl_b20": ["method=meankl", "model=lenet5", "block=20"],
    "vd_t4": ["method=vd", "init_from=auto", "method.module.tau1=4.0"],
    "sws_x1": ["method=sws", "init_from=auto", "method.module.tau2=0.1"],
    "pwfn_a2-3": ["method=pwfn", "method.alpha=0.125"],
    "rd_prune_k0.1": ["method=rd", "importance=hessian", "method.keep=0.1"],
    "rd_quant_b2": ["method=rd", "importance=hessian", "method.operation=quantize", "method.bits=2"],
}


def _job(root, point, seed=0, results=None, cfg=None, failed=False):
    """A job dir of a points sweep: config (with `point`), overrides (with ++point=), results."""
    d = root / f"mnist_{point}_s{seed}"
    (d / ".hydra").mkdir(parents=True)
    method = POINTS[point][0].split("=")[1]
    model = "lenet5" if method in ("meanvar", "meankl") else "lenet5_unhashed"
    conf = {"method": {"name": method, **(cfg or {})}, "model": {"name": model, "arch": "lenet5"}, "seed": seed,
            "block": 30, "scale": {"name": "quick"}, "dataset": {"name": "mnist"}, "point": point}
    OmegaConf.save(conf, d / ".hydra" / "config.yaml")
    OmegaConf.save(["model=lenet5_unhashed", "dataset=mnist", f"seed={seed}", *POINTS[point], f"++point={point}"],
                   d / ".hydra" / "overrides.yaml")
    if failed:
        (d / "failed.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: boom"}))
        return
    r = {"method": method, "model": model, "arch": "lenet5", "dataset": "mnist", "seed": seed, "n_params": N,
         **(results or {})}
    (d / "results.json").write_text(json.dumps(r))


def _sweep(tmp_path):
    root = tmp_path / "sweep"
    _job(root, "l2", results={"test_error": 1.0}, cfg={"weight_decay": 5e-4})
    # 20-bit indices of 1,242 blocks + header: 3,151 bytes; the paper's 555x
    _job(root, "meankl_b20", results={"test_error": 2.2, "compressed_bytes": 3151, "ratio_file": 32 * N / (8 * 3151),
                                      "ratio_paper": 555.4, "block_size": 20, "bits_per_block": 20})
    _job(root, "vd_t4", results={"test_error": 1.2, "compressed_bytes": 26_000, "ratio_file": 32 * N / 208_000,
                                 "ratio_paper": 70.0}, cfg={"module": {"tau1": 4.0}})
    _job(root, "vd_t4", seed=1, results={"test_error": 1.4, "compressed_bytes": 28_000,
                                         "ratio_file": 32 * N / 224_000, "ratio_paper": 66.0},
         cfg={"module": {"tau1": 4.0}})
    # tau2 interpolated from the scale, as the sws config writes it
    _job(root, "sws_x1", results={"test_error": 3.0, "compressed_bytes": 30_000, "ratio_file": 32 * N / 240_000,
                                  "ratio_paper": 60.0},
         cfg={"taus": {"quick": 0.1, "paper": 5e-3}, "module": {"tau2": "${method.taus.${scale.name}}"}})
    # PWFN has no ratio_paper: its accounting is the entropy ratio
    _job(root, "pwfn_a2-3", results={"test_error": 0.7, "compressed_bytes": 174_610, "alpha": 0.125,
                                     "ratio_file": 32 * N / (8 * 174_610), "ratio_entropy": 10.0})
    _job(root, "rd_prune_k0.1", failed=True)
    # rd_quant_b2 never started
    OmegaConf.save({"hydra": {"sweeper": {"params": {"model": "lenet5_unhashed", "dataset": "mnist", "seed": "0,1"},
                                          "points": POINTS, "only": None},
                              "overrides": {"task": ["experiment=frontier_lenet5", "scale=quick"]}}},
                   root / "multirun.yaml")
    return root


def test_points_and_table_columns(tmp_path):
    root = _sweep(tmp_path)
    df = collect(root)
    assert set(df.attrs["sweep_keys"]) == {"seed", "point"}
    status = {(r["point"], r["seed"]): r["status"] for _, r in df.iterrows()}
    assert status[("rd_prune_k0.1", 0)] == "failed"
    assert status[("rd_quant_b2", 0)] == status[("rd_quant_b2", 1)] == "missing"
    # a job that never ran still names its method (from its point's overrides)
    assert set(df[df["point"] == "rd_quant_b2"]["method"]) == {"rd"}

    pts = points(df)
    assert list(pts["point"]) == ["meankl_b20", "vd_t4", "sws_x1", "pwfn_a2-3", "l2"]  # by bits per weight
    row = pts.set_index("point")
    assert row.loc["meankl_b20", "bpw"] == 8 * 3151 / N
    assert row.loc["l2", "bpw"] == 32 and row.loc["l2", "bytes"] == 4 * N and row.loc["l2", "dense"]
    assert row.loc["vd_t4", "n"] == 2 and np.isclose(row.loc["vd_t4", "error"], 1.3)
    assert np.isclose(row.loc["vd_t4", "bytes"], 27_000)
    assert row.loc["pwfn_a2-3", "ratio_paper"] == 10.0
    # front: meankl (fewest bits), vd (lower error at more bits), pwfn (lowest error); sws and l2 beaten
    assert row["front"].to_dict() == {"meankl_b20": True, "vd_t4": True, "sws_x1": False, "pwfn_a2-3": True,
                                      "l2": False}

    md, tex = table(pts, df)
    lines = md.splitlines()
    assert lines[0] == ("| method | setting | bytes | bits / weight | ratio (file) | ratio (paper acct.) | error % "
                        "| front |")
    assert "| MIRACLE Mean-KL | block 20, 20 bits | 3,151 | 0.0585 | 547× | 555× | 2.20 | ✓ |" in lines
    assert "| sparse VD | τ₁ 4 | 27,000 | 0.501 | 64.0× | 68.0× | 1.30 ± 0.10 | ✓ |" in lines
    assert "| SWS | τ₂ 0.1 | 30,000 | 0.557 | 57.5× | 60.0× | 3.00 |  |" in lines
    assert "| PWFN | α 2⁻³ | 174,610 | 3.24 | 9.9× | 10.0× | 0.70 | ✓ |" in lines
    assert "| L2 (dense) | weight decay 0.0005 | (1,724,320) | 32 | 1.0× | 1.0× | 1.00 |  |" in lines
    assert "- failed: method=rd seed=0 point=rd_prune_k0.1 — RuntimeError: boom" in lines
    assert "- missing: method=rd seed=1 point=rd_quant_b2 — job never started (no directory)" in lines
    assert r"$\alpha$ $2^{-3}$" in tex and r"$\tau_1$ 4" in tex and r"\checkmark" in tex and r"\toprule" in tex


def test_report_cli_writes_figure_and_table(tmp_path):
    root = _sweep(tmp_path)
    assert main([str(root)]) == 0
    for name in ("frontier_mnist_lenet5.png", "frontier_mnist_lenet5.pdf", "frontier_mnist_lenet5.md",
                 "frontier_mnist_lenet5.tex"):
        assert (root / "report" / name).stat().st_size > 0, name


def test_not_a_points_sweep_writes_nothing(tmp_path):
    """A sweep without points (e.g. ibc_table2 with its L2 and VD jobs) gets no frontier."""
    root = tmp_path / "sweep"
    d = root / "lenet5_unhashed_vd_s0"
    (d / ".hydra").mkdir(parents=True)
    OmegaConf.save({"method": {"name": "vd"}, "model": {"name": "lenet5_unhashed", "arch": "lenet5"}, "seed": 0},
                   d / ".hydra" / "config.yaml")
    (d / "results.json").write_text(json.dumps({"method": "vd", "test_error": 1.0, "n_params": N,
                                               "compressed_bytes": 1000, "ratio_file": 1.0}))
    assert points(collect(root)).empty
    assert main([str(root)]) == 0
    assert not list((root / "report").glob("frontier*"))


def test_each_coder_of_miracle_gets_its_own_row_and_rd_splits_by_operation(tmp_path):
    """Issue 23: the same posterior coded by MRC, ORC or PFR is three rows (the coder from the job's
    config); rd's rows follow its operation. The labels and settings are the families' (Family.frontier)."""
    rows = []
    for coder, nbytes, err in (("mrc", 3151, 2.2), ("orc", 3151, 2.1), ("pfr", 2900, 2.4)):
        d = tmp_path / coder
        (d / ".hydra").mkdir(parents=True)
        OmegaConf.save({"coding": {"name": coder, "bits_per_block": 20}, "block": 20}, d / ".hydra" / "config.yaml")
        rows.append({"method": "meankl", "status": "ok", "point": f"meankl_{coder}", "run_dir": str(d),
                     "dataset": "mnist", "arch": "lenet5", "n_params": N, "compressed_bytes": nbytes,
                     "ratio_file": 32 * N / (8 * nbytes), "ratio_paper": 555.4, "test_error": err})
    rows.append({"method": "rd", "status": "ok", "point": "rd_q", "run_dir": None, "dataset": "mnist",
                 "arch": "lenet5", "n_params": N, "compressed_bytes": 60_000, "ratio_file": 28.7,
                 "ratio_paper": 16.0, "test_error": 1.1, "operation": "quantize", "bits": 2, "importance": "hessian"})
    pts = points(pd.DataFrame(rows)).set_index("point")
    assert pts.loc["meankl_mrc", "label"] == "MIRACLE Mean-KL"
    assert pts.loc["meankl_orc", "label"] == "MIRACLE Mean-KL (ORC)"
    assert pts.loc["meankl_pfr", "label"] == "MIRACLE Mean-KL (PFR)"
    assert set(pts.loc[["meankl_mrc", "meankl_orc", "meankl_pfr"], "setting"]) == {"block 20, 20 bits"}
    assert pts.loc["rd_q", "label"] == "rd quantisation" and pts.loc["rd_q", "setting"] == "2 bits, hessian"
    # ORC beats MRC at the same bytes; PFR has the fewest bytes; rd the lowest error
    assert pts["front"].to_dict() == {"meankl_pfr": True, "meankl_orc": True, "meankl_mrc": False, "rd_q": True}
    assert styles()["MIRACLE Mean-KL (ORC)"] != styles()["MIRACLE Mean-KL"]
