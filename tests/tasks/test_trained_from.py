"""trained_from: one trained posterior coded by several coders (issue 23): trained once (auto), the
trained state reused bit for bit (no step trained again), other settings refused."""
import json

import pytest

from helpers import run_in_process
from nncompress.core.errors import UserError

SYNTH = ["dataset=synthetic", "dataset.device=cpu", "method=meankl", "block=200", "scale=quick",
         "method.train_steps=30", "method.budget_warmup.factor=1.0", "method.budget_warmup.steps=0",
         "method.lr_gamma_factor=1.0", "coding.bits_per_block=8", "coding.finetune_steps=0",
         "coding.progress=false", "trainer.progress_bar=false"]


@pytest.mark.slow
def test_coders_share_one_trained_posterior(tmp_path):
    shared = [*SYNTH, "trained_from=auto", f"paths.pretrained_dir={tmp_path / 'trained'}"]
    runs = {c: run_in_process([*shared, f"coding={c}"], tmp_path / c) for c in ("mrc", "pfr")}
    (auto,) = (tmp_path / "trained").iterdir()  # trained once, for both coders
    base = json.loads((auto / "results.json").read_text())
    assert "compressed_bytes" not in base and base["train_steps"] == 30
    for c, r in runs.items():
        assert r["trained_from"] == str(auto) and r["resumed_from_step"] == 30  # nothing trained again
        assert r["test_error_uncompressed"] == base["test_error_uncompressed"]
        assert r["kl_bits_per_block_mean"] == pytest.approx(8.0, abs=1e-3)  # Mean-KL: the budget by construction
        assert (tmp_path / c / f"model.{c}").stat().st_size == r["compressed_bytes"]
    # the coded posteriors are the same: equal block KLs at coding, to the last bit
    assert runs["mrc"]["kl_bits_at_coding_mean"] == runs["pfr"]["kl_bits_at_coding_mean"]
    # a run dir is accepted by path for the same settings, refused for others (the budget shapes training)
    same = run_in_process([*SYNTH, "coding=orc", f"trained_from={auto}"], tmp_path / "orc")
    assert same["resumed_from_step"] == 30 and same["test_error_uncompressed"] == base["test_error_uncompressed"]
    with pytest.raises(UserError, match="trained with other settings"):
        run_in_process([*SYNTH, "coding=orc", "coding.bits_per_block=9", f"trained_from={auto}"], tmp_path / "x")
    with pytest.raises(UserError, match="not a finished run dir"):
        run_in_process([*SYNTH, "coding=orc", f"trained_from={tmp_path}"], tmp_path / "y")


def test_fingerprint_names_what_shapes_training(quick_cfg, tmp_path):
    from omegaconf import OmegaConf, open_dict

    from nncompress.tasks.trained import fingerprint

    base = quick_cfg("method=meankl", "coding=mrc", "coding.bits_per_block=12")
    fp = fingerprint(base)
    # the coder and its search/encoder settings, the task, loggers and progress bars do not shape training
    for same in (("coding=pfr", "coding.bits_per_block=12", "coding.candidates_log2=14"),
                 ("coding=orc", "coding.bits_per_block=12", "coding.finetune_steps=7", "logger=wandb"),
                 ("coding=mrc", "coding.bits_per_block=12", "trainer.progress_bar=true", "task=decode")):
        assert fingerprint(quick_cfg("method=meankl", *same)) == fp, same
    # the budget (mkl's trains_with), the method's steps, the block and the seed do
    for other in (("coding.bits_per_block=13",), ("method.train_steps=7",), ("block=20",), ("seed=1",),
                  ("method=meanvar",)):
        assert fingerprint(quick_cfg("method=meankl", "coding=mrc", "coding.bits_per_block=12", *other)) != fp, other
    # a run's saved .hydra/config.yaml (no hydra node, paths unresolvable outside the run) gives the same
    saved = base.copy()
    with open_dict(saved):
        del saved["hydra"]
    OmegaConf.save(saved, tmp_path / "config.yaml")
    assert fingerprint(OmegaConf.load(tmp_path / "config.yaml")) == fp
