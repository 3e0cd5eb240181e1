"""Every experiment recipe end to end at a tiny scale: the sweep composes, runs one job per method
(every other swept key at its first value), and the report writes the recipe's files. MNIST
recipes run on the synthetic data set; CIFAR recipes on small format-true CIFAR folders."""
import json

import pytest
from omegaconf import OmegaConf

from helpers import CIFAR_FILES, CONF, SMOKE, compose_cfg, run_in_process, run_main, write_cifar
from nncompress.report.__main__ import main as report_main

pytestmark = pytest.mark.slow
# scale=smoke: 4 training steps (PWFN: 2 batches an epoch), 16 MRC candidates, no fine-tuning; here
# also VD+SWS's phase 1 (the key exists for that method only, ++ adds it harmlessly to the others).
TINY = ["++method.phase1_steps=2"]
CIFAR = {"cifar10": 10, "cifar100": 100}


def _rd(n):
    return [f"figure{n}.png", f"figure{n}.pdf", f"figure{n}_table.md", f"figure{n}_table.tex"]


# What the report must write for each recipe (a new recipe needs its line here).
WRITES = {
    "mkl_table1": ["table1.md", "table1.tex", "figure1.png", "figure2.png", "figure3.png", "figure3_table.md"],
    "mkl_figure1": ["figure1.png", "figure1.pdf"],
    "mkl_figure2": ["figure2.png", "figure2.pdf"],
    "mkl_figure3": ["figure3.png", "figure3_table.md"],
    "ibc_table2": ["table2.md", "table2.tex", "table2_accuracy_vs_cr.png"],
    **{f"rd_figure{n}_{data}": _rd(n) for n in (2, 3, 4, 5) for data in ("mnist", "cifar10")},
    **{f"rd_figure{n}": _rd(n) for n in (6, 7, 8, 9, 10, 11, 12)},
    **{f"pwfn_figure{n}": [f"pwfn_figure{n}.png", f"pwfn_figure{n}.pdf", "pwfn_table.md", "pwfn_table.tex"]
       for n in (1, 2, 3, 4)},
    "pwfn_variants": ["pwfn_variants.md", "pwfn_variants.tex", "pwfn_table.md", "pwfn_table.tex"],
}
# The frontier recipes sweep named operating points (hydra/sweeper=points), not a method grid: test_frontier.py.
# The seed systems that need a GPU and data absent here (VGG-16 has 15 M parameters, ImageNet is not
# here) run their chain at a tiny scale, on written CIFAR / ImageFolder files, in test_seed_systems.py.
# The coders' recipe (issue 23) is a points sweep too: tests/report/test_coders_report.py runs it.
ELSEWHERE = {"mkl_vgg16_cifar10", "pwfn_imagenet", "mkl_coders"}
RECIPES = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")
                 if not p.stem.startswith("frontier") and p.stem not in ELSEWHERE)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """One paths.pretrained_dir for every recipe: a tiny baseline is trained once per data set and model."""
    return tmp_path_factory.mktemp("pretrained")


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    for classes in CIFAR.values():
        write_cifar(root, classes)
    return root


def test_every_recipe_is_listed():
    assert sorted(WRITES) == RECIPES


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_runs_and_reports(recipe, tmp_path, pretrained, cifar):
    cfg = compose_cfg([f"experiment={recipe}"])
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    first = [f"{k}={str(v).split(',')[0]}" for k, v in params.items() if k != "method"]
    first = [o.replace("range(10)", "0").replace("range(3)", "0") for o in first]
    methods = str(params["method"]).split(",")
    dataset = [o.split("=", 1)[1] for o in first if o.startswith("dataset=")] or [cfg.dataset.name]
    if dataset[0] in CIFAR:  # the recipe's own data set, from small folders, instead of the synthetic one
        # batches of 20: a step of paper 003's CIFAR CNN (0.6 GMAC an image) costs ~10 s here at 200
        data = ["dataset.val_size=40", "dataset.batch_size=20", "dataset.device=cpu", "scale=smoke",
                "trainer.progress_bar=false", CIFAR_FILES]
        data_dir = cifar
    else:
        data, data_dir = [*SMOKE], None
        first = [o for o in first if not o.startswith("dataset=")]
    pre = pretrained
    if cfg.get("init_from") == "auto":  # the shared baselines, tiny, where init_from=auto looks for them
        name = "synthetic" if data_dir is None else dataset[0]
        for model in [o.split("=", 1)[1] for o in first if o.startswith("model=")] or [cfg.model.name]:
            if (pre / f"{name}_{model}_smoke_s0" / "results.json").exists():
                continue
            run_in_process([*data, *(["dataset=" + name] if data_dir else []), "method=baseline", "coding=none",
                            f"model={model}"], pre / f"{name}_{model}_smoke_s0", data_dir)
    sweep = tmp_path / "sweep"
    # run.py's Hydra sweep in this process (the basic launcher runs its jobs one after another there
    # too); a fresh process would only add its start-up, 28 times.
    proc = run_main(["-m", f"experiment={recipe}", *data, *first, *TINY, f"paths.pretrained_dir={pre}",
                     f"hydra.sweep.dir={sweep}"], data_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted(sweep.rglob("results.json"))
    assert sorted(json.loads(p.read_text())["method"] for p in results) == sorted(methods), proc.stderr[-3000:]
    assert report_main([str(sweep)]) == 0  # in-process: the report's own CLI, without another start-up
    for name in WRITES[recipe]:
        assert (sweep / "report" / name).stat().st_size > 0, name
