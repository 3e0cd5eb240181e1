"""The frontier recipes (experiments/frontier_*) and their points sweeper (hydra/sweeper=points):
the expansion of named operating points, every job's composed config at both scales (no training),
and one tiny sweep end to end through the CLI and the report."""
import json

import pytest
from hydra.errors import HydraException
from omegaconf import OmegaConf

from helpers import CONF, SYNTHETIC, compose_cfg, run_in_process, run_main
from hydra_plugins.nncompress_points.points_sweeper import expand, merge
from nncompress.report.__main__ import main as report_main

RECIPES = sorted(p.stem for p in (CONF / "experiment").glob("frontier*.yaml"))
# every family at several operating points (rd: pruning and quantisation), and the dense baseline
FAMILIES = {"l2", "meanvar", "meankl", "vd", "sws", "vd_sws", "pwfn", "rd_prune", "rd_quantize"}


def test_merge_lets_the_point_win():
    base = ["model=lenet5_unhashed", "dataset=mnist", "seed=0"]
    assert merge(base, ["method=meankl", "model=lenet5_hashed"]) == ["dataset=mnist", "seed=0", "method=meankl",
                                                              "model=lenet5_hashed"]
    assert merge(base, ["+method.x=1"]) == [*base, "+method.x=1"]


def test_expand_crosses_the_grid_with_the_points():
    points = {"a": ["method=vd"], "b": ["method=sws", "block=20"]}
    jobs = expand([["seed=0"], ["seed=1"]], points)
    assert jobs == [["seed=0", "method=vd", "++point=a"], ["seed=0", "method=sws", "block=20", "++point=b"],
                    ["seed=1", "method=vd", "++point=a"], ["seed=1", "method=sws", "block=20", "++point=b"]]
    assert expand([["seed=0"]], points, ["b"]) == [["seed=0", "method=sws", "block=20", "++point=b"]]
    with pytest.raises(HydraException, match=r"unknown operating point\(s\) \['c'\].*\['a', 'b'\]"):
        expand([[]], points, ["a", "c"])
    with pytest.raises(HydraException, match="empty"):
        expand([[]], {})


def _jobs(recipe, scale):
    """(point, overrides) of every job the sweep would launch (each grid key at its first value)."""
    cfg = compose_cfg([f"experiment={recipe}", f"scale={scale}"])
    sweeper = OmegaConf.to_container(cfg.hydra.sweeper, resolve=True)
    assert sweeper["_target_"].endswith("PointsSweeper")
    base = [f"experiment={recipe}", f"scale={scale}",
            *(f"{k}={str(v).split(',')[0]}" for k, v in sweeper["params"].items())]
    return sweeper, [(job[-1].split("=", 1)[1], job) for job in expand([base], sweeper["points"], sweeper["only"])]


def _family(c) -> str:
    return f"rd_{c.method.operation}" if c.method.name == "rd" else c.method.name


@pytest.mark.parametrize("scale", ["quick", "paper"])
@pytest.mark.parametrize("recipe", RECIPES)
def test_every_job_composes(recipe, scale):
    sweeper, jobs = _jobs(recipe, scale)
    if scale == "quick":  # a subset of the points, each family at least twice
        assert 10 <= len(jobs) < len(sweeper["points"])
    else:
        assert len(jobs) == len(sweeper["points"])
    seen, dirs = {}, set()
    for point, overrides in jobs:
        c = compose_cfg(overrides, hydra=False)
        assert c.point == point and c.scale.name == scale
        family = _family(c)
        seen.setdefault(family, []).append(point)
        assert c.method.name == next(o for o in sweeper["points"][point] if o.startswith("method=")).split("=")[1]
        for o in sweeper["points"][point]:  # every knob of the point lands in the config
            key, value = o.split("=", 1)
            if key not in ("method", "model", "importance", "init_from"):
                got = OmegaConf.select(c, key)
                assert (str(got) == value if isinstance(got, str) else float(got) == float(value)), (point, key)
        if c.method.name in ("vd", "sws", "vd_sws", "pwfn", "rd"):
            assert c.init_from == "auto", point  # the shared baseline
        if c.method.name in ("meanvar", "meankl"):
            assert c.coding.name == "mrc" and c.init_from is None
            assert c.model.name == ("lenet5_hashed" if recipe == "frontier_lenet5" else "lenet300_100")
        else:
            assert c.model.name == ("lenet5_unhashed" if recipe == "frontier_lenet5" else "lenet300_100"), point
        if c.method.name == "rd":
            assert c.importance.name == "hessian"
        dirs.add(f"{c.dataset.name}_{c.point}_s{c.seed}")
    assert set(seen) == FAMILIES
    assert all(len(v) >= 2 for k, v in seen.items() if k != "l2"), seen
    assert len(dirs) == len(jobs)  # one run dir per job


def test_fashion_mnist_is_in_the_lenet5_grid():
    cfg = compose_cfg(["experiment=frontier_lenet5"])
    assert str(cfg.hydra.sweeper.params.dataset).split(",") == ["mnist", "fashion_mnist"]


@pytest.mark.slow
def test_frontier_sweep_and_report(tmp_path):
    """One command runs the points (tiny, on the synthetic data set: a post-training family, one from
    the shared baseline, MIRACLE on its own model), one turns it into the figure and the table; a point
    the recipe lacks stops the sweep before any job. Every point's config: test_every_job_composes."""
    pre = tmp_path / "pretrained"
    run_in_process([*SYNTHETIC, "method=baseline", "coding=none", "model=lenet5_unhashed", "method.train_steps=4"],
                   pre / "synthetic_lenet5_unhashed_quick_s0")
    chosen = ["l2", "rd_quant_b2", "vd_t4", "meanvar_b40"]
    sweep = tmp_path / "sweep"
    tiny = ["method.train_steps=4", "++method.phase1_steps=2", "scale.mrc.candidates_log2=4",
            "scale.mrc.finetune_steps=0"]
    proc = run_main(["-m", "experiment=frontier_lenet5", *SYNTHETIC, f"point={','.join(chosen)}", *tiny,
                     f"paths.pretrained_dir={pre}", f"hydra.sweep.dir={sweep}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {p.parent.name: json.loads(p.read_text()) for p in sweep.rglob("results.json")}
    assert sorted(results) == sorted(f"synthetic_{p}_s0" for p in chosen), proc.stderr[-3000:]
    assert results["synthetic_meanvar_b40_s0"]["model"] == "lenet5_hashed"  # the point's model, not the grid's
    assert results["synthetic_rd_quant_b2_s0"]["bits"] == 2
    assert report_main([str(sweep)]) == 0
    md = (sweep / "report" / "frontier_synthetic_lenet5.md").read_text()
    assert len([line for line in md.splitlines() if line.startswith("| ")]) == 1 + len(chosen)
    assert (sweep / "report" / "frontier_synthetic_lenet5.png").stat().st_size > 0

    bad = run_main(["-m", "experiment=frontier_lenet5", *SYNTHETIC, "point=l2,nope",
                    f"hydra.sweep.dir={tmp_path / 'x'}"])
    assert bad.returncode != 0 and "unknown operating point(s) ['nope']" in bad.stderr
