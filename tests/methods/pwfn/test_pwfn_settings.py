"""Bad input fails at start-up with one line: from the family's check (which the task runs before it
resolves init_from, and build runs again), and on the command line before any baseline is trained."""
import pytest
from hydra.errors import ConfigCompositionException

from helpers import SYNTHETIC, compose_cfg, run_main
from nncompress.core.errors import UserError
from nncompress.methods.pwfn.settings import PwfnSettings, SettingsError, check_model, settings_of

BAD = {
    "method.schedule=[0.2,0.4,0.4,1.0]": "strictly increasing",
    "method.schedule=[0.2,0.5,0.9]": "must end at 1.0",
    "method.schedule=[0.5,1.5]": "(0, 1]",
    "method.max_omega=0": "max_omega must be an integer in 1..4",
    "method.max_omega=5": "max_omega must be an integer in 1..4",
    "method.alpha=-0.001": "alpha must be >= 0",
    "method.gamma=-1": "gamma must be >= 0",
    "method.fixing=both": "choose one of ['appendix', 'public']",
    "method.zero_fix=true": "method.fixing=public",
    "method.delta0=0": "delta0 must be > 0",
    "method.epochs_per_round=0": "epochs_per_round must be an integer >= 1",
    "method.batches_per_epoch=0": "batches_per_epoch must be a fraction",
}


@pytest.mark.parametrize("override", sorted(BAD))
def test_bad_settings_are_one_line_errors_from_the_familys_check(override):
    from nncompress.methods.base import get_family

    cfg = compose_cfg(["method=pwfn", "scale=quick", override], hydra=False)
    with pytest.raises(SettingsError) as err:
        get_family("pwfn").check(cfg)  # what the task runs first, before training any baseline
    message = str(err.value)
    assert BAD[override] in message and "\n" not in message


def test_good_settings_and_a_misspelt_key():
    cfg = compose_cfg(["method=pwfn", "scale=quick"], hydra=False)
    assert cfg.init_from == "auto" and cfg.model.name == "lenet5_unhashed" and cfg.coding.name == "codebook"
    assert settings_of(cfg) == PwfnSettings(batches_per_epoch=0.1)  # scale=quick: 10 % of the batches
    with pytest.raises(ConfigCompositionException, match="alpah"):  # Hydra's struct refuses it
        compose_cfg(["method=pwfn", "method.alpah=1"], hydra=False)


def test_a_hashed_model_is_refused():
    cfg = compose_cfg(["method=pwfn", "model=lenet5_hashed"], hydra=False)
    with pytest.raises(SettingsError, match="hashing"):
        check_model(cfg)


@pytest.mark.parametrize("args, message", [
    (["method.max_omega=7"], "error: method.max_omega must be an integer in 1..4, got 7"),
    (["init_from=null"], "error: method=pwfn starts from a trained network"),
    (["init_from=/nonexistent/run"], "error: init_from: no checkpoint at /nonexistent/run"),
])
def test_command_line_errors_are_one_line_and_train_nothing(args, message, tmp_path):
    proc = run_main([*SYNTHETIC, "method=pwfn", f"paths.pretrained_dir={tmp_path / 'pre'}",
                     f"hydra.run.dir={tmp_path / 'run'}", *args])
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr[-2000:]
    assert not (tmp_path / "pre").exists()  # no baseline was trained


def test_a_baseline_of_another_model_is_named_as_such(tmp_path):
    from nncompress.methods.pwfn.family import _check_baseline_model

    (tmp_path / "results.json").write_text('{"model": "lenet5_hashed"}')
    with pytest.raises(UserError, match="holds a baseline of model=lenet5_hashed, not model=lenet5_unhashed"):
        _check_baseline_model(tmp_path, "lenet5_unhashed")
    _check_baseline_model(tmp_path, "lenet5_hashed")  # the right one passes
