"""Table 2 of paper 001 from a sweep laid out as Hydra writes it."""
import json

from omegaconf import OmegaConf

from nncompress.report.__main__ import main
from nncompress.report.collect import collect
from nncompress.report.papers.ibc import table2

ARCH = {"lenet300_100": "lenet300_100", "lenet5_unhashed": "lenet5", "lenet5": "lenet5"}


def _job(root, model, method, seed, err, nz, cr, failed=False, killed=False):
    """A job dir as Hydra writes it: the composed config, the job's overrides, its results (a killed
    job: what training had written, no results.json and no failed.json)."""
    d = root / f"{model}_{method}_s{seed}"
    (d / ".hydra").mkdir(parents=True)
    OmegaConf.save({"method": {"name": method}, "model": {"name": model, "arch": ARCH[model]}, "seed": seed,
                    "block": 30, "scale": {"name": "quick"}}, d / ".hydra" / "config.yaml")
    OmegaConf.save([f"model={model}", f"method={method}", f"seed={seed}", "experiment=ibc_table2"],
                   d / ".hydra" / "overrides.yaml")
    if failed:
        (d / "failed.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: boom"}))
        return
    if killed:
        (d / "checkpoints").mkdir()
        (d / "checkpoints" / "last.ckpt").write_bytes(b"\0" * 64)
        (d / "metrics.csv").write_text("epoch,step,train/ce\n0,4,2.3\n")
        return
    r = {"method": method, "test_error": err, "nonzero_fraction": nz}
    if cr is not None:
        r.update(ratio_paper=cr, ratio_file=cr * 0.9)
    (d / "results.json").write_text(json.dumps(r))


def test_two_model_grid_finds_the_missing_and_the_failed_job(tmp_path):
    """The grid is every swept key of multirun.yaml: a LeNet-5 job that never ran is not hidden by
    its LeNet-300-100 twin (the keys were once fixed to method/block/seed)."""
    root = tmp_path / "sweep"
    for method in ("l2", "vd"):
        _job(root, "lenet300_100", method, 0, 1.8, 0.02, 100.0)
    _job(root, "lenet5_unhashed", "l2", 0, None, None, None, failed=True)  # lenet5_unhashed vd never started
    OmegaConf.save({"hydra": {"sweeper": {"params": {"model": "lenet300_100,lenet5_unhashed", "method": "l2,vd",
                                                     "seed": 0}},
                              "overrides": {"task": ["experiment=ibc_table2", "scale=quick"]}}},
                   root / "multirun.yaml")
    df = collect(root)
    assert df.attrs["sweep_keys"] == ["model", "method"]
    status = {(r["model"], r["method"]): r["status"] for _, r in df.iterrows()}
    assert status == {("lenet300_100", "l2"): "ok", ("lenet300_100", "vd"): "ok",
                      ("lenet5_unhashed", "l2"): "failed", ("lenet5_unhashed", "vd"): "missing"}
    md, _ = table2(df)
    assert "- failed: method=l2 model=lenet5_unhashed — RuntimeError: boom" in md
    assert "- missing: method=vd model=lenet5_unhashed — job never started (no directory)" in md


def test_table2_rows_and_paper_values(tmp_path):
    root = tmp_path / "sweep"
    _job(root, "lenet300_100", "l2", 0, 1.6, None, None)
    _job(root, "lenet300_100", "vd", 0, 2.0, 0.02, 120.0)
    _job(root, "lenet300_100", "vd", 1, 1.8, 0.01, 140.0)
    _job(root, "lenet5_unhashed", "vd_sws", 0, 0.9, 0.005, 480.0)
    md, tex = table2(collect(root))
    assert "| LeNet-300-100 | L2 | 98.40 ± — | 100.0 ± — | 1 | — | 98.39 | 100 | 1 |" in md
    assert "| LeNet-300-100 | VD | 98.10 ± 0.10 | 1.5 ± 0.5 | 130 | 117 | 98.05 | 1.6 | 131 |" in md
    assert "| LeNet-5-Caffe | VD+SWS | 99.10 ± — | 0.5 ± — | 480 | 432 | 99.14 | 0.5 | 482 |" in md
    assert r"\toprule" in tex
    assert main([str(root)]) == 0
    assert (root / "report" / "table2_accuracy_vs_cr.png").stat().st_size > 0


def test_a_killed_job_is_reported_missing(tmp_path, capsys):
    """A job killed mid-way (SIGKILL, OOM, a cluster's time limit) leaves its dir without results.json or
    failed.json: it is listed as missing, in the tables and in the printed summary, not left out."""
    root = tmp_path / "sweep"
    _job(root, "lenet300_100", "l2", 0, 1.8, 0.02, 100.0)
    _job(root, "lenet300_100", "vd", 0, None, None, None, killed=True)
    _job(root, "lenet5_unhashed", "l2", 0, None, None, None, failed=True)
    OmegaConf.save({"hydra": {"sweeper": {"params": {"model": "lenet300_100,lenet5_unhashed", "method": "l2,vd"}},
                              "overrides": {"task": ["experiment=ibc_table2", "scale=quick"]}}},
                   root / "multirun.yaml")
    df = collect(root)
    status = {(r["model"], r["method"]): r["status"] for _, r in df.iterrows()}
    assert status == {("lenet300_100", "l2"): "ok", ("lenet300_100", "vd"): "missing",
                      ("lenet5_unhashed", "l2"): "failed", ("lenet5_unhashed", "vd"): "missing"}
    killed = df[(df["model"] == "lenet300_100") & (df["method"] == "vd")].iloc[0]
    assert killed["run_dir"] == str(root / "lenet300_100_vd_s0") and "killed" in killed["error"]
    md, _ = table2(df)
    assert "- missing: method=vd model=lenet300_100 — no results.json (crashed, killed or still running)" in md
    assert main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "4 jobs: 1 ok, 1 failed, 2 missing" in out
    assert "missing: method=vd model=lenet300_100 — no results.json (crashed, killed or still running)" in out


def test_a_sweep_of_l2_alone_keeps_every_weight(tmp_path):
    """L2 jobs write no nonzero_fraction: the table says 100 % instead of failing on the column."""
    root = tmp_path / "sweep"
    d = root / "lenet300_100_l2_s0"
    (d / ".hydra").mkdir(parents=True)
    OmegaConf.save({"method": {"name": "l2"}, "model": {"name": "lenet300_100", "arch": "lenet300_100"}, "seed": 0},
                   d / ".hydra" / "config.yaml")
    (d / "results.json").write_text(json.dumps({"method": "l2", "test_error": 1.75}))
    md, _ = table2(collect(root))
    assert "| LeNet-300-100 | L2 | 98.25 ± — | 100.0 ± — | 1 | — | 98.39 | 100 | 1 |" in md
