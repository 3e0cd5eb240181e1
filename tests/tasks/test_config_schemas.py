"""The method, model and dataset schemas (issue 21): every option is typed by a schema and passes
its checks; a misspelt key fails while composing with the valid keys, from the command line and
from a scale overlay; a value out of range fails at start-up with the valid range or choices; an
option file states no schema default again."""
import dataclasses
import shutil

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from helpers import CONF, compose_cfg, run_cli
from nncompress.core.checks import ConfigError
from nncompress.tasks.config import _schemas, check_config, config_error_line


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _checked(overrides):
    """The composed config of `run.py OVERRIDES`, through the start-up checks run_task makes."""
    cfg = compose_cfg(overrides, hydra=True)
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} in paths resolves as in a run
    check_config(cfg)
    return cfg


def _error_line(overrides) -> str:
    with pytest.raises(ConfigCompositionException) as err:
        compose_cfg(overrides)
    line = config_error_line(err.value)
    assert "\n" not in line
    return line


@pytest.mark.parametrize("scale", ["paper", "quick", "smoke"])
def test_every_option_is_typed_and_passes_its_checks(scale):
    runs = [[f"method={o}"] for o in _options("method")] + [[f"model={o}"] for o in _options("model")]
    runs += [[f"dataset={o}"] for o in _options("dataset")]
    for overrides in runs:
        if overrides == ["model=target"]:
            overrides = [*overrides, "model._target_=torchvision.models.resnet18"]
        cfg = _checked([*overrides, f"scale={scale}"])
        for group in ("method", "model", "dataset"):
            assert dataclasses.is_dataclass(OmegaConf.get_type(cfg[group])), (overrides, group)


@pytest.mark.parametrize("overrides, key, valid", [
    (["method=meankl", "method.lrr=1"], "method.lrr", ["lr", "lr_gamma_factor", "budget_warmup"]),
    (["method=meanvar", "method.budget_warmup.factor=2"], "method.budget_warmup", ["beta_eps", "beta_init"]),
    (["method=vd", "method.trajectory.evry=5"], "method.trajectory.evry", ["every", "weights"]),
    (["method=sws", "method.schedule=table3"], "method.schedule", ["module", "terms"]),  # vd's, not sws's
    (["method=pwfn", "method.alpah=0.1"], "method.alpah", ["alpha", "gamma", "schedule"]),
    (["method=rd", "method.theory.lamb=[1]"], "method.theory.lamb", ["lam", "sigma2", "mc_samples"]),
    (["method=l2", "method.weight_decy=1"], "method.weight_decy", ["weight_decay", "optimizer"]),
    (["model=mlp", "model.train.step=10"], "model.train.step", ["steps", "milestones", "optimizer"]),
    (["model=lenet5_hashed", "model.csr_bits=3"], "model.csr_bits", ["csr_index_bits", "hash_seed"]),
    (["dataset=mnist", "dataset.batchsize=10"], "dataset.batchsize", ["batch_size", "check_md5"]),
    (["dataset=cifar10", "dataset.augmnt=false"], "dataset.augmnt", ["augment", "normalization"]),
    (["dataset=synthetic", "dataset.n_tarin=10"], "dataset.n_tarin", ["n_train", "n_test"]),
])
def test_a_misspelt_key_fails_composing_with_the_valid_keys(overrides, key, valid):
    line = _error_line(overrides)
    assert line.startswith(f"{key}: no such key; valid keys: "), line
    listed = line.split("valid keys: ")[1].split(", ")
    assert set(valid) <= set(listed), line


def test_an_unknown_option_lists_the_options_not_the_schemas():
    line = _error_line(["method=mean_kl"])
    assert "options in 'method': baseline, l2, meankl" in line and "_schema" not in line
    assert "cifar10, cifar100" in _error_line(["dataset=cifar"])


@pytest.mark.parametrize("overrides, message", [
    (["method=meankl", "method.lr=-1e-3"], "method.lr must be a number > 0, got -0.001"),
    (["method=meankl", "method.train_steps=-1"], "method.train_steps must be an integer >= 0, got -1"),
    (["method=meankl", "method.budget_warmup.factor=0.5"], "method.budget_warmup.factor must be a number >= 1"),
    (["method=meanvar", "method.beta_eps=0"], "method.beta_eps must be a number > 0"),
    (["method=vd", "method.schedule=fast"], "method.schedules has no 'fast'; choose one of: molchanov, table3"),
    (["method=vd", "method.trajectory.weights=0"], "method.trajectory.weights must be an integer >= 1"),
    (["method=sws", "method.module.pi_zero=1.5"], "method.module.pi_zero must be a number in (0, 1)"),
    (["method=sws", "method.terms=[mixtur]"], "method.terms: unknown value 'mixtur'; choose one of ['vd', 'mixture']"),
    (["method=vd_sws", "method.phase1_steps=-1"], "method.phase1_steps must be an integer >= 0, got -1"),
    (["method=l2", "method.optimizer=rmsprop"],
     "method.optimizer: unknown value 'rmsprop'; choose one of ['adam', 'sgd']"),
    (["method=baseline", "model=mlp", "model.train.momentum=1.5"], "model.train.momentum must be a number in [0, 1)"),
    (["method=pwfn", "method.round0_fraction=1.5"], "method.round0_fraction must lie in (0, 1]"),
    (["method=pwfn", "method.fixing=private"], "method.fixing: unknown variant 'private'; choose one of"),
    (["method=rd", "method.keep=1.5"], "the keep-rate must be a number in (0, 1]"),
    (["method=rd", "method.operation=prun"], "method.operation=prun: choose one of ['prune', 'quantize', 'theory']"),
    (["model.train.steps=-5"], "model.train.steps must be an integer >= 0, got -5"),
    (["model.train.milestones=[30,10]"], "model.train.milestones must be in increasing order"),
    (["model=target", "model._target_=torchvision.models.resnet18", "model.train.lr=0"], "model.train.lr must be"),
    (["dataset.batch_size=0"], "dataset.batch_size must be an integer >= 1, got 0"),
    (["dataset=cifar10", "dataset.normalization=imagenet"], "choose one of ['half', 'standard']"),
    (["dataset=synthetic", "dataset.n_train=100"], "dataset.n_train must be an integer >= 201"),
    (["dataset=imagefolder", "dataset.num_workers=-1"], "dataset.num_workers must be an integer >= 0"),
    (["coding.fused=maybe"], "coding.fused: unknown value 'maybe'; choose one of ['auto', 'on', 'off']"),
    (["scale.mrc.finetune_steps=-1"], "scale.mrc.finetune_steps must be an integer >= 0"),
])
def test_a_value_out_of_range_fails_at_start_up_with_the_range(overrides, message):
    cfg = compose_cfg(overrides, hydra=True)  # Hydra checks keys and types, not ranges
    HydraConfig.instance().set_config(cfg)
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("overlay, text, key, valid", [
    ("method/quick/meankl.yaml", "method:\n  lrr: 3e-3\n", "method.lrr", ["lr", "budget_warmup"]),
    ("model/quick/mlp.yaml", "model:\n  train: {stpes: 10}\n", "model.train.stpes", ["steps", "lr"]),
    ("method/smoke/pwfn.yaml", "method: {batches_per_epch: 2}\n", "method.batches_per_epch", ["batches_per_epoch"]),
])
def test_a_misspelt_key_in_a_scale_overlay_names_the_file_and_the_valid_keys(tmp_path, overlay, text, key, valid):
    from hydra import compose, initialize_config_dir

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf, symlinks=False)  # conf/experiment: the recipes' folder, copied
    (conf / "scale" / overlay).write_text(text)
    group, scale, option = overlay[:-len(".yaml")].split("/")
    selects = {"method": f"method={option}", "model": f"model={option}"}[group]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as err:
            compose(config_name="config", overrides=[selects, f"scale={scale}"])
    line = config_error_line(err.value)
    assert line.startswith(f"scale/{overlay[:-5]}: {key}: no such key; valid keys: "), line
    assert set(valid) <= set(line.split("valid keys: ")[1].split(", ")) and "\n" not in line


def _flat(node, prefix=""):
    if isinstance(node, dict) and node:
        return {k: v for key, value in node.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}


@pytest.mark.parametrize("group", ["method", "model", "dataset"])
def test_an_option_file_states_no_default_of_its_schema_again(group):
    """Each default is stated once: in the schema, or (a paper's value) in the option file."""
    schemas = _schemas()
    for option in _options(group):
        raw = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"))
        names = [str(d).split("@")[0] for d in raw.get("defaults", []) if str(d).split("@")[0].endswith("_schema")]
        if not names:
            continue  # extends another option (dataset=imagenet: imagefolder)
        schema = OmegaConf.to_container(OmegaConf.structured(schemas[(group, names[0])]))
        node = raw.get(group, {}) if group == "method" else {k: v for k, v in raw.items() if k != "defaults"}
        defaults = _flat(schema)
        again = {k: v for k, v in _flat(node).items() if k in defaults and defaults[k] == v and v != "???"}
        assert not again, f"conf/{group}/{option}.yaml restates its schema's defaults {again}"


def test_run_py_prints_one_line_for_a_typo_and_for_a_value_out_of_range(tmp_path):
    for args, expected in ((["method.lrr=1"], "error: method.lrr: no such key; valid keys: budget_warmup, family"),
                           (["method.lr=-1"], "error: method.lr must be a number > 0, got -1.0")):
        result = run_cli([*args, "task=decode", f"hydra.run.dir={tmp_path}"])
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.returncode == 1 and lines[-1].startswith(expected), result.stderr[-2000:]
        assert not any(ln.startswith(("Traceback", "Set the environment")) for ln in lines), result.stderr[-2000:]
