"""Table 2 of paper 001 from a sweep laid out as Hydra writes it."""
import json

from omegaconf import OmegaConf

from nncompress.report.__main__ import main
from nncompress.report.collect import collect
from nncompress.report.tables import table2


def _job(root, model, method, seed, err, nz, cr):
    d = root / f"{model}_{method}_s{seed}"
    (d / ".hydra").mkdir(parents=True)
    OmegaConf.save({"method": {"name": method}, "model": {"name": model}, "seed": seed, "block": 30,
                    "scale": {"name": "quick"}}, d / ".hydra" / "config.yaml")
    r = {"method": method, "test_error": err, "nonzero_fraction": nz}
    if cr is not None:
        r.update(ratio_paper=cr, ratio_file=cr * 0.9)
    (d / "results.json").write_text(json.dumps(r))


def test_table2_rows_and_paper_values(tmp_path):
    root = tmp_path / "sweep"
    _job(root, "lenet300_100", "l2", 0, 1.6, None, None)
    _job(root, "lenet300_100", "vd", 0, 2.0, 0.02, 120.0)
    _job(root, "lenet300_100", "vd", 1, 1.8, 0.01, 140.0)
    _job(root, "lenet5", "vd_sws", 0, 0.9, 0.005, 480.0)
    md, tex = table2(collect(root))
    assert "| LeNet-300-100 | L2 | 98.40 ± — | 100.0 ± — | 1 | — | 98.39 | 100 | 1 |" in md
    assert "| LeNet-300-100 | VD | 98.10 ± 0.10 | 1.5 ± 0.5 | 130 | 117 | 98.05 | 1.6 | 131 |" in md
    assert "| LeNet-5-Caffe | VD+SWS | 99.10 ± — | 0.5 ± — | 480 | 432 | 99.14 | 0.5 | 482 |" in md
    assert r"\toprule" in tex
    assert main([str(root)]) == 0
    assert (root / "report" / "table2_accuracy_vs_cr.png").stat().st_size > 0
