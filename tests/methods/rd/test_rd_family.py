"""method=rd pieces: settings checked at start-up, prune / quantise with exact codebooks, the file
round trip, the accounting keys, the importance cache, Figure 6's check and the metrics."""
import math

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from helpers import compose_cfg
from nncompress.coding import codebook
from nncompress.coding.codebook import CodebookNet
from nncompress.core.errors import UserError
from nncompress.importance import Importance, target_layers
from nncompress.methods.base import get_family
from nncompress.methods.rd.accounting import entropy_ratio, paper_ratio
from nncompress.methods.rd.compress import prune, pruning_codes, quantize
from nncompress.methods.rd.estimate import cache_key, importance_for
from nncompress.methods.rd.figure6 import figure6_data
from nncompress.methods.rd.metrics import classification_metrics
from nncompress.methods.rd.settings import (
    ImportanceSettings,
    SettingsError,
    check_config,
    rd_settings,
)
from nncompress.models.spec import ArchSpec

ESTIMATORS = ["baseline", "fisher", "gradient", "hessian", "grad_hessian"]
SPEC = ArchSpec("mlp", {}, 1, 10, 6)  # 36-256-256-10


def _net(seed=0):
    torch.manual_seed(seed)
    net = SPEC.build().eval()
    with torch.no_grad():  # a few exact zeros and negative values already in place
        net.fc1.weight[0, :3] = 0.0
    return net


def _importance(net, quartic=False, seed=1):
    g = torch.Generator().manual_seed(seed)
    layers = target_layers(net)
    first = {k: torch.rand(m.weight.shape, generator=g) for k, m in layers.items()}
    q = {k: torch.rand(m.weight.shape, generator=g) for k, m in layers.items()} if quartic else None
    return Importance(first, q, 100)


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ESTIMATORS)
def test_importance_group_composes_from_the_method_config(name):
    """`importance=` works on the command line: method=rd adds the group to the defaults tree."""
    cfg = compose_cfg(["method=rd", f"importance={name}"], hydra=False)
    assert cfg.importance.name == name and cfg.model.name == "mlp" and cfg.coding.name == "codebook"
    assert cfg.init_from == "auto"
    s = rd_settings(cfg)
    assert s.importance.name == name and s.operation == "prune" and s.keep == 0.1 and s.bits == 4


def test_defaults_and_scale():
    paper = rd_settings(compose_cfg(["method=rd"], hydra=False))
    quick = rd_settings(compose_cfg(["method=rd", "scale=quick"], hydra=False))
    assert paper.importance.name == "fisher" and paper.importance.split == "train"
    assert paper.importance.n_samples is None and quick.importance.n_samples == 10000
    cfg = compose_cfg(["method=rd", "importance=hessian", "importance.mu=0.3",
                       "importance.hessian_estimator=gauss_newton", "importance.temperature=2"], hydra=False)
    s = rd_settings(cfg).importance
    assert (s.mu, s.hessian_estimator, s.temperature, s.normalize) == (0.3, "gauss_newton", 2.0, True)


def test_other_methods_have_no_importance_group():
    with pytest.raises(Exception, match="importance"):
        compose_cfg(["method=vd", "importance=fisher"], hydra=False)


@pytest.mark.parametrize("override, message", [
    ("method.keep=0", "keep-rate must be a number in (0, 1]"),
    ("method.keep=1.5", "keep-rate"),
    ("method.keep=-0.2", "keep-rate"),
    ("method.bits=0", "bits must be an integer"),
    ("method.operation=distill", "choose one of ['prune', 'quantize', 'theory']"),
    ("importance.name=magic", "unknown estimator"),
    ("importance.temperature=0", "temperature"),
    ("++importance.temprature=2", "unknown key(s) ['temprature']"),
])
def test_bad_settings_fail_in_one_line_before_any_work(override, message):
    """Family.check: the task calls it before it trains a baseline (init_from=auto)."""
    cfg = compose_cfg(["method=rd", override], hydra=False)
    with pytest.raises(UserError) as err:
        get_family("rd").check(cfg)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_hessian_estimator_and_split():
    for override, message in (("importance.hessian_estimator=exact", "hessian_estimator"),
                              ("importance.split=holdout", "split")):
        cfg = compose_cfg(["method=rd", "importance=hessian", override], hydra=False)
        with pytest.raises(SettingsError, match=message):
            check_config(cfg)


def test_misspelt_method_key_fails_at_composition():
    with pytest.raises(Exception, match="kep"):
        compose_cfg(["method=rd", "method.kep=0.1"], hydra=False)
    with pytest.raises(Exception, match="bits=2.5"):  # a wrong type: the schema (RdMethod) refuses it
        compose_cfg(["method=rd", "method.bits=2.5"], hydra=False)


def test_unknown_estimator_group_option_fails_at_composition():
    with pytest.raises(Exception, match="importance"):
        compose_cfg(["method=rd", "importance=magic"], hydra=False)


def test_no_trained_network_to_start_from(tmp_path):
    with pytest.raises(UserError, match="compresses a trained network") as err:
        check_config(compose_cfg(["method=rd", "init_from=null"], hydra=False))
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="no checkpoint"):
        check_config(compose_cfg(["method=rd", f"init_from={tmp_path / 'missing'}"], hydra=False))
    # the theory figure needs none, and writes no file
    theory = compose_cfg(["method=rd", "method.operation=theory", "init_from=null"], hydra=False)
    with pytest.raises(UserError, match="coding=none"):
        get_family("rd").check(theory)
    get_family("rd").check(compose_cfg(["method=rd", "method.operation=theory", "init_from=null", "coding=none"],
                                       hydra=False))


# --- prune / quantise and the file --------------------------------------------------------------

def _round_trip(compressed) -> nn.Module:
    payload, _ = codebook.encode(CodebookNet.from_network(SPEC, compressed.net, compressed.codes))
    return codebook.decode(payload).build()


def _assert_same_state(a: nn.Module, b: nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
        assert torch.equal(torch.signbit(sa[k]), torch.signbit(sb[k])), k  # not even -0.0 vs 0.0


@pytest.mark.parametrize("quartic", [False, True])
def test_prune_round_trip_and_keys(quartic):
    net = _net()
    imp = _importance(net, quartic)
    out = prune(net, imp, keep=0.07)
    decoded = _round_trip(out)
    _assert_same_state(decoded, out.net)
    x = torch.randn(5, 1, 6, 6)
    assert torch.equal(decoded(x), out.net(x))
    layers = target_layers(out.net)
    m = {k: layer.weight.numel() for k, layer in layers.items()}
    nnz = {k: int(torch.count_nonzero(layer.weight)) for k, layer in layers.items()}
    for k, layer in layers.items():  # ⌈0.07·n⌉ kept per layer, the highest scores, the rest exactly +0.0
        assert nnz[k] == math.ceil(round(0.07 * m[k], 9))
        w0 = target_layers(net)[k].weight.detach()
        score = imp.first[k] * w0 ** 2 + (imp.quartic[k] * w0 ** 4 if quartic else 0)
        kept = layer.weight != 0
        assert score[kept].min() >= score[~kept].max()
        assert not torch.signbit(layer.weight[~kept]).any()
        assert torch.equal(layer.weight[kept], w0[kept])
    total, kept_total = sum(m.values()), sum(nnz.values())
    assert out.keys["nonzero_fraction"] == pytest.approx(kept_total / total)
    assert out.keys["ratio_paper"] == pytest.approx(total / kept_total)
    h = {k: -(nnz[k] / m[k]) * math.log2(nnz[k] / m[k]) - (1 - nnz[k] / m[k]) * math.log2(1 - nnz[k] / m[k])
         for k in m}
    assert out.keys["ratio_entropy"] == pytest.approx(32 * total / sum(m[k] * h[k] + 32 * nnz[k] for k in m))
    kept_values = torch.cat([layer.weight[layer.weight != 0].detach() for layer in layers.values()])
    assert out.keys["unique_values"] == kept_values.unique().numel() + 1  # distinct floats and the zero
    # biases untouched, the input network untouched
    assert torch.equal(out.net.fc1.bias, net.fc1.bias) and torch.count_nonzero(net.fc2.weight) == net.fc2.weight.numel()


@pytest.mark.parametrize("quartic", [False, True])
def test_quantize_round_trip_and_accounting(quartic):
    net = _net()
    out = quantize(net, _importance(net, quartic), bits=2)
    _assert_same_state(_round_trip(out), out.net)
    counts = []
    for k, layer in target_layers(out.net).items():
        values = layer.weight.detach().unique()
        assert values.numel() <= 4
        cb, idx = out.codes[k]
        assert torch.equal(cb[idx], layer.weight.detach())
        counts.append(torch.bincount(idx.flatten(), minlength=len(cb)).tolist())
    assert out.keys["ratio_paper"] == pytest.approx(paper_ratio(counts))
    assert out.keys["ratio_entropy"] == pytest.approx(entropy_ratio(counts))
    assert out.keys["rate_paper"] == pytest.approx(1 / out.keys["ratio_paper"])
    assert out.keys["clusters"] == 4 and out.keys["unique_values"] <= 12


def test_quantize_matches_the_k_means_objective_of_its_importance():
    """Heavier weights pull the centres: weighted k-means gives a lower weighted distortion than the
    plain one when judged by that weighting."""
    net = _net()
    imp = _importance(net)
    plain = quantize(net, Importance({k: torch.ones_like(v) for k, v in imp.first.items()}), bits=2)
    weighted = quantize(net, imp, bits=2)

    def cost(o):
        return sum(float((imp.first[k] * (target_layers(o.net)[k].weight - m.weight).detach() ** 2).sum())
                   for k, m in target_layers(net).items())
    assert cost(weighted) < cost(plain)


def test_pruning_codes_hold_values_exactly():
    w = torch.tensor([[0.0, -0.0, 1.5, -2.25], [1.5, 0.0, 3.0e-8, -2.25]])
    cb, idx = pruning_codes(w)
    assert cb[0] == 0.0 and torch.equal(cb[idx], w) and idx[0, 0] == idx[0, 1] == 0
    assert cb.tolist() == [0.0, -2.25, 3.0e-8, 1.5] or torch.equal(cb, torch.tensor([0.0, -2.25, 3.0e-8, 1.5]))


# --- importance cache ------------------------------------------------------------------------------

class _DM:
    def __init__(self, n=64):
        g = torch.Generator().manual_seed(0)
        self.x_train = torch.randn(n, 1, 6, 6, generator=g)
        self.y_train = torch.randint(0, 10, (n,), generator=g)
        self.x_val = self.y_val = None
        self.x_test, self.y_test = self.x_train[:16], self.y_train[:16]
        self.device = torch.device("cpu")


def test_importance_is_cached_beside_the_baseline_and_mu_added_after(tmp_path):
    net, dm = _net(), _DM()
    s = ImportanceSettings(name="hessian", hessian_estimator="gauss_newton", mu=0.0, normalize=True, n_samples=40)
    first = importance_for(net, dm, s, 0, tmp_path, use_cache=True)
    assert not first.cached and first.n_samples == 40
    assert (tmp_path / "importance" / f"{cache_key(s, 0)}.pt").exists()
    s_mu = ImportanceSettings(name="hessian", hessian_estimator="gauss_newton", mu=0.5, normalize=True, n_samples=40)
    again = importance_for(net, dm, s_mu, 0, tmp_path, use_cache=True)
    assert again.cached and again.seconds == first.seconds
    for k in first.importance.first:
        assert torch.equal(again.importance.first[k], first.importance.first[k] + 0.5)
    # other weights: the cache is ignored and rewritten
    other = _net(seed=3)
    fresh = importance_for(other, dm, s, 0, tmp_path, use_cache=True)
    assert not fresh.cached
    # other settings, another file
    assert cache_key(s, 0) != cache_key(ImportanceSettings(name="hessian", n_samples=40), 0)


def test_fisher_uses_no_labels(tmp_path):
    net, dm = _net(), _DM()
    dm.y_train = None  # would fail if the estimate touched them
    est = importance_for(net, dm, ImportanceSettings(name="fisher", n_samples=32), 0, None)
    assert est.n_samples == 32 and all((v >= 0).all() for v in est.importance.first.values())


# --- Figure 6 and the metrics ------------------------------------------------------------------------

def test_figure6_data_passes_its_checks():
    data = figure6_data([3, 2, 1], [3, 2, 1], [1.5, 6.0, 11.0], n=50_000, seed=1)
    assert data["passed"]
    kinks = [(k["D"], k["R"]) for k in data["kinks"]]
    assert kinks[0] == pytest.approx((3, math.log2(6))) and kinks[1] == pytest.approx((9, math.log2(1.5)))
    assert kinks[2] == pytest.approx((14, 0))


def test_classification_metrics_against_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 12, generator=g)
    y = torch.randint(0, 12, (50,), generator=g)
    loader = [(logits[:20], y[:20]), (logits[20:], y[20:])]
    out = classification_metrics(lambda x: x, loader)
    assert out["test_accuracy"] == pytest.approx(100 * float((logits.argmax(1) == y).float().mean()))
    assert out["test_ce"] == pytest.approx(float(F.cross_entropy(logits.double(), y)))
    top5 = sum(int(y[i] in logits[i].topk(5).indices) for i in range(50)) / 50 * 100
    assert out["test_top5_accuracy"] == pytest.approx(top5)


def test_settings_dataclass_from_yaml_files_match_the_estimator_options():
    """Every conf/importance/*.yaml passes the checks with its defaults."""
    for name in ESTIMATORS:
        cfg = compose_cfg(["method=rd", f"importance={name}", "scale=quick"], hydra=False)
        s = rd_settings(cfg)
        assert OmegaConf.select(cfg, "importance.name") == s.importance.name == name
