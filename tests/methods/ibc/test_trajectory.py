"""The log-α trajectory record: the sampled weights' θ and log σ², read back from its file."""
import numpy as np
import torch

from nncompress.layers.vd import vd_layers
from nncompress.methods.ibc.family import build_module
from nncompress.methods.ibc.trajectory import FILE, LogAlphaTrajectory, load
from nncompress.models.lenet import LeNet300100


def _live_values(module, layer, flat_index):
    layers = vd_layers(module.net)
    theta = np.array([layers[i].theta.flatten()[j].item() for i, j in zip(layer, flat_index)])
    log_s2 = np.array([layers[i].log_sigma2.flatten()[j].item() for i, j in zip(layer, flat_index)])
    return theta, log_s2


def test_records_the_sampled_weights_at_each_step(tmp_path):
    torch.manual_seed(0)
    module = build_module(LeNet300100(), 1000, ["vd"], {})
    rec = LogAlphaTrajectory(tmp_path, every=5, n_weights=200, seed=3)
    rec.record(module, 0)
    first = _live_values(module, rec.layer, rec.flat_index)
    with torch.no_grad():
        for m in vd_layers(module.net):
            m.theta.mul_(0.5)
            m.log_sigma2.add_(torch.rand_like(m.log_sigma2))
    rec.record(module, 5)
    d = load(tmp_path / FILE)
    assert d["step"].tolist() == [0, 5] and d["theta"].shape == (2, 200)
    # The layers get weights in proportion to their size: 784·300 of 266,200 are fc1's.
    counts = np.bincount(d["layer"], minlength=3)
    assert counts[0] > 150 and counts.sum() == 200 and len(set(zip(d["layer"], d["flat_index"]))) == 200
    np.testing.assert_array_equal(d["theta"][0], first[0].astype(np.float32))
    now = _live_values(module, d["layer"], d["flat_index"])
    np.testing.assert_array_equal(d["theta"][1], now[0].astype(np.float32))
    np.testing.assert_array_equal(d["log_sigma2"][1], now[1].astype(np.float32))
    want = np.clip(d["log_sigma2"] - np.log(d["theta"].astype(np.float64) ** 2 + 1e-16), -8, 8)
    np.testing.assert_allclose(d["log_alpha"], want, atol=1e-5)
    # No trainer: the configured rate (Table 3's 1e-4); Adam's reach after 5 steps is 5 of them.
    np.testing.assert_array_equal(d["lr_log_sigma2"], [1e-4, 1e-4])
    np.testing.assert_allclose(d["reach"], [-10.0, -10.0 + 5e-4])
    # Same seed, same weights: two runs of one recipe can be overlaid.
    again = LogAlphaTrajectory(tmp_path / "x", n_weights=200, seed=3)
    (tmp_path / "x").mkdir()
    again.record(module, 0)
    np.testing.assert_array_equal(again.flat_index, rec.flat_index)
