"""The same run on the same machine writes the same bytes, and the file decodes in a fresh process
to the weights its encoder evaluated.

Checked by running each command twice here, once in this process and once in a fresh one (a fresh
interpreter: another hash seed, nothing cached), never against digests from another machine:
trained floats differ between CPUs and torch builds. What is portable, the codecs' bytes on fixed
tensors and the files' decoded weights, is pinned in tests/coding/test_golden_codecs.py.
"""
import json

import pytest

from helpers import ROOT, SYNTHETIC, run_cli, run_in_process

pytestmark = pytest.mark.slow
KEYS = json.loads((ROOT / "tests" / "expected" / "results_keys.json").read_text())
CASES = {  # codec -> (command, file): training, the coder (MRC with fine-tuning between blocks), the file
    "mrc": ([*SYNTHETIC, "method=meankl", "block=400", "method.train_steps=20", "coding.candidates_log2=6",
             "coding.finetune_steps=1", "coding.progress=false"], "model.mrc"),
    "csr_huffman": ([*SYNTHETIC, "model=lenet300_100", "method=vd", "method.train_steps=30", "coding=csr_huffman"],
                    "model.nnc"),
}


@pytest.mark.parametrize("codec", sorted(CASES))
def test_same_command_same_bytes_and_the_file_decodes_in_a_fresh_process(codec, tmp_path):
    args, filename = CASES[codec]
    first = run_in_process(args, tmp_path / "first")
    proc = run_cli([*args, f"hydra.run.dir={tmp_path / 'second'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = (tmp_path / "first" / filename).read_bytes()
    assert (tmp_path / "second" / filename).read_bytes() == data
    second = json.loads((tmp_path / "second" / "results.json").read_text())
    assert set(KEYS[codec]) <= set(first) and set(KEYS[codec]) <= set(second)  # keys may be added, never renamed
    for key in ("weights_sha256", "test_error_compressed", "test_error_uncompressed", "compressed_bytes"):
        assert first[key] == second[key], key
    assert first["compressed_bytes"] == len(data)
    dec = run_cli([*SYNTHETIC, "task=decode", f"file={tmp_path / 'first' / filename}",
                   f"hydra.run.dir={tmp_path / 'decode'}"])
    assert dec.returncode == 0, dec.stderr[-3000:]
    record = json.loads((tmp_path / "decode" / "decode.json").read_text())
    assert record["weights_sha256"] == first["weights_sha256"]
    assert record["test_error"] == first["test_error_compressed"]
    assert record["compressed_bytes"] == len(data) and record["kind"] == codec
