"""Every config option composes; typos fail at start-up with the valid choices."""
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from helpers import CONF
from helpers import compose_cfg as _compose
from nncompress.core.errors import UserError
from nncompress.methods.base import get_family


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.endswith("_schema"))


@pytest.mark.parametrize("group", ["dataset", "model", "method", "coding", "scale", "trainer", "logger"])
def test_every_option_composes_and_resolves(group):
    for option in _options(group):
        cfg = _compose([f"{group}={option}"])
        resolved = OmegaConf.to_container(cfg.method, resolve=True)
        assert resolved["name"] == cfg.method.name


def test_experiments_compose():
    for name in _options("experiment"):
        cfg = _compose([f"experiment={name}"])
        assert "sweeper" in cfg.hydra


def test_paper_defaults():
    cfg = _compose(["method=meanvar"])
    assert cfg.method.train_steps == 200000 and cfg.method.beta_eps == 5e-5
    cfg = _compose(["method=meankl", "block=20"])
    assert cfg.method.train_steps == 100000 and cfg.coding.block_size == 20
    assert cfg.coding.bits_per_block == 20 and cfg.coding.candidates_log2 is None
    assert cfg.coding.finetune_steps == 100 and dict(cfg.model.hashing) == {"conv2": 2, "fc1": 64}


def test_paper_001_sparse_vd_runs_200_epochs_at_batch_100():
    """Phase 1 (VD) is 200 epochs of the 55,000 training images at batch 100 (Molchanov et al.'s
    batch; see conf/method/vd.yaml); the baseline it starts from keeps batch 200."""
    epoch = 55000 // 100
    vd, both = _compose(["method=vd"]), _compose(["method=vd_sws"])
    assert (vd.dataset.batch_size, vd.method.train_steps) == (100, 200 * epoch)
    assert (both.dataset.batch_size, both.method.module.phase1_steps, both.method.train_steps) == \
        (100, 200 * epoch, 250 * epoch)
    # Molchanov et al.'s policy by default: 1e-3 for 100 epochs, then linearly to 0 at 200.
    m = vd.method.module
    assert (m.lr_theta, m.lr_log_sigma2, m.lr_decay_start, m.lr_decay_steps) == (1e-3, 1e-3, 100 * epoch, 200 * epoch)
    m = _compose(["method=vd", "method.schedule=table3"]).method.module  # the literal Table 3 rates
    assert (m.lr_theta, m.lr_log_sigma2, m.lr_decay_steps) == (5e-5, 1e-4, 0)
    m = both.method.module  # VD+SWS: phase 1 as VD, ending at Table 3's rates for phase 2
    assert (m.lr_decay_steps, m.lr_theta_final, m.lr_log_sigma2_final, m.lr_means) == (200 * epoch, 5e-5, 1e-4, 1e-4)
    assert _compose(["method=baseline", "model=lenet300_100"]).dataset.batch_size == 200
    quick = _compose(["method=vd", "scale=quick"])
    assert (quick.dataset.batch_size, quick.method.train_steps) == (200, 1000)
    literal = _compose(["method=vd", "dataset.batch_size=200", "method.train_steps=55000"])
    assert (literal.dataset.batch_size, literal.method.train_steps) == (200, 200 * 55000 // 200)


def test_quick_scale():
    cfg = _compose(["scale=quick"])
    assert cfg.method.train_steps == 3000 and cfg.method.lr == 3e-3
    # The paper's full search (candidates_log2 null: 2^bits_per_block), 3 fine-tuning steps, not 100.
    assert cfg.coding.candidates_log2 is None and cfg.coding.finetune_steps == 3


def test_typos_fail_early():
    with pytest.raises(ConfigCompositionException):
        _compose(["coding.finetune_step=5"])  # misspelt key
    with pytest.raises(ConfigCompositionException):
        _compose(["coding.finetune_steps=ten"])  # wrong type, caught by the schema
    with pytest.raises(ConfigCompositionException, match="meankl"):
        _compose(["method=mean_kl"])  # unknown option: Hydra lists the available ones


@pytest.mark.parametrize("launcher", ["joblib", "submitit_slurm"])
def test_launchers_compose(launcher):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="extra [sweeps] not installed")
    cfg = _compose(["experiment=mkl_table1", f"hydra/launcher={launcher}"])
    assert launcher.split("_")[0] in cfg.hydra.launcher._target_.lower()


def test_unknown_module_key_of_a_paper_001_method_is_named():
    from omegaconf import open_dict

    from nncompress.methods.ibc.family import build_module
    from nncompress.models.lenet import LeNet300100

    for method in ("vd", "sws", "vd_sws"):  # every shipped config builds
        cfg = _compose([f"method={method}", "model=lenet300_100"])
        build_module(LeNet300100(), 100, cfg.method.terms, OmegaConf.to_container(cfg.method.module, resolve=True))
    with open_dict(cfg):
        cfg.method.module.tau3 = 1.0  # a typo inside a method's YAML, which the command line would refuse
    with pytest.raises(UserError, match=r"unknown key\(s\) \['tau3'\].*'tau2'"):
        build_module(LeNet300100(), 100, cfg.method.terms, OmegaConf.to_container(cfg.method.module, resolve=True))


def test_each_method_selects_its_familys_codec():
    """conf/method/*.yaml picks the codec its family writes, so no method needs coding= on the line."""
    for method in _options("method"):
        cfg = _compose([f"method={method}"])
        assert cfg.coding.name == get_family(cfg.method.family).codec, method
    assert _compose(["method=vd", "coding=none"]).coding.name == "none"  # the command line still wins


def test_coding_auto_and_a_foreign_codec(quick_cfg):
    from nncompress.tasks.builders import resolve_coding

    cfg = quick_cfg("method=vd", "coding=auto")
    assert resolve_coding(cfg, "csr_huffman").coding.name == "csr_huffman"
    assert resolve_coding(quick_cfg("method=meankl", "coding=auto"), "mrc").coding.finetune_steps == 3  # the scale's
    with pytest.raises(UserError, match="coding=mrc does not code method=vd"):
        resolve_coding(quick_cfg("method=vd", "coding=mrc"), "csr_huffman")


def test_model_name_is_not_the_architecture():
    cfg = _compose(["model=lenet5_unhashed"])
    assert (cfg.model.name, cfg.model.arch) == ("lenet5_unhashed", "lenet5")


def test_the_pretrained_baseline_keeps_the_methods_model(quick_cfg):
    """init_from=auto recomposes the run as method=baseline: a model the method config chose (rd
    picks the MLP) must survive, not fall back to the default LeNet-5."""
    from nncompress.tasks.builders import compose_like_this_run

    cfg = quick_cfg("method=rd")
    assert cfg.model.name == "mlp"
    keep = ("dataset", "model", "scale", "seed", "trainer", "paths")
    base = compose_like_this_run(keep=keep, extra=["method=baseline", "coding=none"], pin=("dataset", "model", "scale"))
    assert (base.model.name, base.method.name, base.scale.name) == ("mlp", "baseline", "quick")
    assert compose_like_this_run(keep=keep, extra=["method=baseline"]).model.name == "lenet5_hashed"  # what went wrong


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        return {k for key, v in node.items() for k in _leaves(v, f"{prefix}{key}.")} or {prefix}
    return {prefix}


# Each overlay of a scale (conf/scale/<group>/<scale>/<option>.yaml) with the option that selects it.
OVERLAID = {"method": lambda o: [f"method={o}"], "model": lambda o: [f"model={o}"],
            "importance": lambda o: ["method=rd", f"importance={o}"], "experiment": lambda o: [f"experiment={o}"]}


@pytest.mark.parametrize("scale", [s for s in _options("scale") if s != "paper"])
def test_a_scale_sets_only_keys_that_exist(scale):
    """A scale changes values, never the shape: every leaf key at `scale` is a key at paper scale,
    for its global file (every method) and for each of its overlays (the option they belong to)."""
    runs = [[f"method={m}"] for m in _options("method")]
    for group, select in OVERLAID.items():
        runs += [select(p.stem) for p in sorted((CONF / "scale" / group / scale).glob("*.yaml"))]
    for overrides in runs:
        paper = OmegaConf.to_container(_compose(overrides))
        scaled = OmegaConf.to_container(_compose([*overrides, f"scale={scale}"]))
        for node in (paper, scaled):
            node["hydra"] = {k: node["hydra"][k] for k in ("sweeper",)}
        assert _leaves(scaled) == _leaves(paper), overrides


def test_scale_values_and_keys_are_checked():
    smoke = _compose(["method=vd", "scale=smoke"])
    assert (smoke.method.train_steps, smoke.model.train.steps, smoke.scale.mrc.finetune_steps) == (4, 4, 0)
    assert smoke.method.module.lr_theta == 1e-3 and smoke.dataset.batch_size == 100  # the rest: paper's
    assert _compose(["method=pwfn", "scale=smoke"]).method.batches_per_epoch == 2
    with pytest.raises(ConfigCompositionException, match=r"(?s)Available options in 'scale'.*quick.*smoke"):
        _compose(["scale=quik"])
    with pytest.raises(ConfigCompositionException, match="finetune_steps=ten") as err:
        _compose(["scale.mrc.finetune_steps=ten"])  # the Scale schema (tasks/config.py)
    assert "could not be converted to Integer" in str(err.value.__cause__)
    with pytest.raises(ConfigCompositionException, match="finetune_step"):
        _compose(["scale.mrc.finetune_step=1"])


def test_a_recipe_overlay_follows_the_recipe():
    """scale=quick refines a recipe after the recipe's own values (conf/scale/experiment/quick)."""
    quick = _compose(["experiment=frontier_lenet5", "scale=quick"]).hydra.sweeper
    paper = _compose(["experiment=frontier_lenet5"]).hydra.sweeper
    assert paper.only is None and len(quick.only) == 17 and set(quick.only) <= set(paper.points)
    assert paper.points.sws_x1 == ["method=sws", "init_from=auto", "method.module.tau2=5e-3"]
    assert quick.points.sws_x1 == ["method=sws", "init_from=auto", "method.module.tau2=0.1"]
    assert quick.points.vd_t1 == paper.points.vd_t1
    assert _compose(["experiment=pwfn_imagenet", "scale=quick"]).method.batches_per_epoch == 0.001
    assert _compose(["method=pwfn", "scale=quick"]).method.batches_per_epoch == 0.1
