"""A family registered from this file gets the whole pipeline without a line in tasks/ or report/
(issue 21): a run, a file, a decode, a frontier row, and a one-line refusal of prune curves.

The toy method trains the baseline's weight vector, then writes every layer weight as its sign
times mean |w| (one scale per tensor, two codebook entries) in a codebook file."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import SYNTHETIC, run_in_process
from nncompress.core.errors import UserError
from nncompress.methods.base import FAMILIES, Family, register
from nncompress.methods.baseline import BaselineModule
from nncompress.methods.frontier_rows import FrontierRows, Knob
from nncompress.report.papers.frontier import points, table

pytestmark = pytest.mark.slow


class ToyFamily(Family):
    key, codec = "toy", "codebook"
    frontier = (FrontierRows("toy", "toy signs", "x", "k", "{levels} levels, lr {lr}",
                             (Knob("levels", "levels"), Knob("lr", path="method.lr"))),)

    def build(self, cfg, ctx):
        return BaselineModule(ctx.network, lr=float(cfg.method.lr))

    def export(self, module, cfg, ctx):
        from nncompress.coding.codebook import CodebookNet

        net = ctx.network.spec.build()
        state = net.state_dict()
        state.update({k: v.detach().cpu() for k, v in ctx.network.expand(module.weights).items()})
        net.load_state_dict(state)
        codes = {name: (torch.stack([-w.abs().mean(), w.abs().mean()]), (w > 0).long())
                 for name, w in net.state_dict().items() if name.endswith("weight")}
        ctx.handover["codes"] = codes
        return CodebookNet.from_network(ctx.network.spec, net, codes), {"levels": 2}

    def after_decode(self, module, decoded, cfg, ctx):
        state = decoded.network.state_dict()
        for name, (book, idx) in ctx.handover["codes"].items():
            assert torch.equal(state[name].cpu(), book[idx])
        return {"toy_checked": len(ctx.handover["codes"])}


@pytest.fixture
def toy():
    register(ToyFamily)
    yield FAMILIES["toy"]
    FAMILIES.pop("toy")


def test_a_family_from_a_test_file_runs_writes_decodes_and_gets_a_frontier_row(toy, tmp_path):
    run = tmp_path / "run"
    args = [*SYNTHETIC, "model=lenet300_100", "method=baseline", "method.name=toy", "method.family=toy",
            "method.train_steps=5", "coding=codebook"]
    record = run_in_process([*args, "++point=toy_2"], run)
    results = json.loads((run / "results.json").read_text())
    assert results["method"] == "toy" and results["levels"] == 2 and results["toy_checked"] == 3  # fc1..fc3
    assert results["compressed_bytes"] == (run / "model.cbk").stat().st_size == record["compressed_bytes"]
    # two values per weight tensor (1 bit each before Huffman), the 410 biases raw: far below float32
    assert results["n_params"] == 266_610 and 8 * results["compressed_bytes"] / results["n_params"] < 1.5

    run_in_process([*SYNTHETIC, "task=decode", f"file={run / 'model.cbk'}"], tmp_path / "decode")
    decoded = json.loads((tmp_path / "decode" / "decode.json").read_text())
    assert decoded["weights_sha256"] == results["weights_sha256"]
    assert decoded["test_error"] == results["test_error_compressed"] == results["test_error"]

    df = pd.DataFrame([{**results, "status": "ok", "point": "toy_2", "run_dir": str(run)}])
    pts = points(df)
    assert len(pts) == 1
    row = pts.iloc[0]
    assert row["label"] == "toy signs" and row["setting"] == "2 levels, lr 0.001"  # lr from the job's config
    assert np.isclose(row["bpw"], 8 * results["compressed_bytes"] / 266_610) and row["front"]
    assert row["ratio_file"] == results["ratio_file"] and np.isnan(row["ratio_paper"])  # toy has no accounting
    md, _ = table(pts)
    assert md.splitlines()[2].startswith("| toy signs | 2 levels, lr 0.001 | ")

    with pytest.raises(UserError, match="method family 'toy' has no prune curves .*'mkl'"):
        run_in_process([*SYNTHETIC, "task=prune_curve", f"run={run}"], tmp_path / "prune")
    # a sweep dir: its runs without prune curves (and the decode task's dir) are passed over
    with pytest.raises(UserError, match="no finished run with prune curves under"):
        run_in_process([*SYNTHETIC, "task=prune_curve", f"run={tmp_path}"], tmp_path / "prune_sweep")
