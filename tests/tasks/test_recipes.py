"""Every experiment recipe end to end at a tiny synthetic scale: the sweep composes, runs one job
per method (every other swept key at its first value), and the report writes the recipe's files."""
import json

import pytest
from omegaconf import OmegaConf

from helpers import CONF, SYNTHETIC, compose_cfg, run_cli

pytestmark = pytest.mark.slow
TINY = ["method.steps.quick=4", "++method.phases.quick=2", "scale.mrc.candidates_log2=4",
        "scale.mrc.finetune_steps=0", "pruning.repeats=1"]
# What the report must write for each recipe (a new recipe needs its line here).
WRITES = {
    "mkl_table1": ["table1.md", "table1.tex", "figure1.png", "figure2.png", "figure3.png", "figure3_table.md"],
    "mkl_figure1": ["figure1.png", "figure1.pdf"],
    "mkl_figure2": ["figure2.png", "figure2.pdf"],
    "mkl_figure3": ["figure3.png", "figure3_table.md"],
    "ibc_table2": ["table2.md", "table2.tex", "table2_accuracy_vs_cr.png"],
}
RECIPES = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """One paths.pretrained_dir for every recipe: a tiny baseline is trained once per model."""
    return tmp_path_factory.mktemp("pretrained")


def test_every_recipe_is_listed():
    assert sorted(WRITES) == RECIPES


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_runs_and_reports(recipe, tmp_path, pretrained):
    cfg = compose_cfg([f"experiment={recipe}"])
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    first = [f"{k}={str(v).split(',')[0]}" for k, v in params.items() if k != "method"]
    first = [o.replace("range(10)", "0").replace("range(3)", "0") for o in first]
    methods = str(params["method"]).split(",")
    pre = pretrained
    if cfg.get("init_from") == "auto":  # the shared baselines, tiny, where init_from=auto looks for them
        for model in [o.split("=", 1)[1] for o in first if o.startswith("model=")] or [cfg.model.name]:
            if (pre / f"synthetic_{model}_quick_s0" / "results.json").exists():
                continue
            base = run_cli([*SYNTHETIC, "method=baseline", "coding=none", f"model={model}", "method.steps.quick=4",
                            f"hydra.run.dir={pre / f'synthetic_{model}_quick_s0'}"])
            assert base.returncode == 0, base.stderr[-2000:]
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", f"experiment={recipe}", *SYNTHETIC, *first, *TINY, f"paths.pretrained_dir={pre}",
                    f"hydra.sweep.dir={sweep}"], timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted(sweep.rglob("results.json"))
    assert sorted(json.loads(p.read_text())["method"] for p in results) == sorted(methods), proc.stderr[-3000:]
    report = run_cli([str(sweep)], module="nncompress.report")
    assert report.returncode == 0, report.stderr[-3000:]
    for name in WRITES[recipe]:
        assert (sweep / "report" / name).stat().st_size > 0, (name, report.stdout[-2000:])
