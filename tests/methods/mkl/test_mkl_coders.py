"""coding=orc|pfr for the mkl family: composition, the refusals at start-up, and a run that writes
model.orc / model.pfr, decodes them bit-exactly in a fresh process (slow)."""
import json

import pytest

from helpers import run_cli, run_in_process
from nncompress.core.errors import UserError
from nncompress.methods.base import get_family
from nncompress.tasks.builders import resolve_coding


@pytest.mark.parametrize("coder", ["orc", "pfr"])
def test_meankl_accepts_the_ordered_coders(coder, quick_cfg):
    family = get_family("mkl")
    cfg = quick_cfg("method=meankl", f"coding={coder}")
    assert cfg.coding.name == coder and cfg.coding.finetune_steps == 3  # the scale's, as coding=mrc
    assert resolve_coding(cfg, family.codec, family.codecs) is cfg
    family.check(cfg)
    with pytest.raises(UserError, match=f"coding={coder} does not code method=vd"):
        resolve_coding(quick_cfg("method=vd", f"coding={coder}"), "csr_huffman")


def test_coder_settings_refused_at_start_up(quick_cfg):
    family = get_family("mkl")
    family.check(quick_cfg("method=meankl", "coding=pfr", "coding.candidates_log2=28"))  # pfr: beyond the budget
    for bad, match in [(("coding=pfr", "coding.candidates_log2=33"), "1..32 for coding=pfr"),
                       (("coding=orc", "coding.candidates_log2=21"), "1..20 for coding=orc"),
                       (("coding=orc", "coding.selection=argmax"), "selection must be 'sample'")]:
        with pytest.raises(UserError, match=match):
            family.check(quick_cfg("method=meankl", *bad))


SYNTH = ["dataset=synthetic", "dataset.device=cpu", "method=meankl", "block=200", "scale=quick",
         "method.train_steps=40", "method.budget_warmup.factor=1.0", "method.budget_warmup.steps=0",
         "method.lr_gamma_factor=1.0", "coding.candidates_log2=6", "coding.finetune_steps=2",
         "coding.progress=false", "trainer.progress_bar=false"]


@pytest.mark.slow
@pytest.mark.parametrize("coder", ["orc", "pfr"])
def test_run_writes_and_a_fresh_process_decodes(coder, tmp_path):
    """Encoded in this process (run_in_process: run.py's task without its start-up), decoded by a
    fresh `run.py task=decode` to the same weights and error."""
    run_in_process([*SYNTH, f"coding={coder}"], tmp_path)
    r = json.loads((tmp_path / "results.json").read_text())
    path = tmp_path / f"model.{coder}"
    assert r["compressed_bytes"] == path.stat().st_size and r["n_blocks"] == 125
    if coder == "pfr":  # indices below 2^6 in exp-Golomb codes: at most 6 + 1 bits each at order 6
        assert r["index_bits_per_block"] <= 7 and r["candidates_log2"] == 6
    else:  # MRC's layout: 20-bit indices
        assert r["bits_per_block"] == 20
    dec = run_cli(["dataset=synthetic", "dataset.device=cpu", "task=decode", f"file={path}",
                   f"hydra.run.dir={tmp_path / 'decode'}"])
    assert dec.returncode == 0, dec.stderr[-3000:]
    record = json.loads((tmp_path / "decode" / "decode.json").read_text())
    assert record["kind"] == coder and record["weights_sha256"] == r["weights_sha256"]
    assert record["test_error"] == r["test_error_compressed"]
