"""fisher and gradient importance against per-sample autograd loops; the public code's mini-batch
gradient against a loop over batches of 10; options, errors, and the model left as it was."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nncompress.importance import ESTIMATORS, estimate_importance, target_layers

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 4)).double()


def conv_bn():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, affine=False), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(27, 4)).double()
    bn = model[1]
    bn.running_mean.copy_(torch.randn(3) * 0.3)
    bn.running_var.copy_(torch.rand(3) + 0.5)
    return model


def data(model, n=12, seed=2):
    g = torch.Generator().manual_seed(seed)
    shape = (n, 6) if isinstance(model[0], nn.Linear) else (n, 2, 6, 6)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randint(0, 4, (n,), generator=g)


def batches(x, y, sizes=(7, 5)):
    out, s = [], 0
    for b in sizes:
        out.append((x[s:s + b], y[s:s + b]))
        s += b
    return out


def brute_force(model, x, y, kind, temperature):
    """Per-sample Python loop: one autograd call per sample (and per class for fisher)."""
    model.eval()
    layers = target_layers(model)
    weights = [m.weight for m in layers.values()]
    total = [torch.zeros_like(w) for w in weights]
    for n in range(x.shape[0]):
        z = model(x[n:n + 1])
        if kind == "gradient":
            loss = F.cross_entropy(z / temperature, y[n:n + 1])
            for t, g in zip(total, torch.autograd.grad(loss, weights)):
                t += g ** 2
        else:
            f = torch.softmax(z / temperature, dim=-1)[0]
            for c in range(f.shape[0]):
                for t, g in zip(total, torch.autograd.grad(f[c], weights, retain_graph=True)):
                    t += g ** 2 / f[c]
    return {k: t / x.shape[0] for k, t in zip(layers, total)}


@pytest.mark.parametrize("make", [mlp, conv_bn], ids=["mlp", "conv_bn"])
@pytest.mark.parametrize("kind", ["fisher", "gradient"])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
@pytest.mark.parametrize("closed_form", [True, False], ids=["closed", "generic"])
def test_per_sample_scores_match_autograd_loop(make, kind, temperature, closed_form):
    model = make()
    x, y = data(model)
    expected = brute_force(model, x, y, kind, temperature)
    model.train()
    got = estimate_importance(kind, model, batches(x, y), temperature=temperature, chunk_size=4,
                              closed_form=closed_form)
    assert set(got.first) == set(expected) and got.quartic is None and got.n_samples == 12
    for k in expected:
        assert got.first[k].shape == expected[k].shape
        torch.testing.assert_close(got.first[k], expected[k], rtol=1e-10, atol=1e-14)
        assert expected[k].abs().max() > 1e-6  # the check is not vacuous


def test_fisher_ignores_labels_and_accepts_bare_inputs():
    model = mlp()
    x, y = data(model)
    with_labels = estimate_importance("fisher", model, [(x, y)])
    other_labels = estimate_importance("fisher", model, [(x, (y + 1) % 4)])
    bare = estimate_importance("fisher", model, [x])
    for k in with_labels.first:
        assert torch.equal(with_labels.first[k], other_labels.first[k])
        assert torch.equal(with_labels.first[k], bare.first[k])


def test_minibatch_gradient_matches_loop_over_groups_of_ten():
    model = mlp()
    x, y = data(model, n=25)
    model.eval()
    weights = [m.weight for m in target_layers(model).values()]
    expected = [torch.zeros_like(w) for w in weights]
    groups = [(0, 10), (10, 20), (20, 25)]  # the stream's last group is short
    for a, b in groups:
        loss = F.cross_entropy(model(x[a:b]) / 2.0, y[a:b])
        for e, g in zip(expected, torch.autograd.grad(loss, weights)):
            e += g ** 2 / len(groups)
    got = estimate_importance("gradient", model, batches(x, y, (8, 8, 9)), per_sample=False,
                              batch_size=10, temperature=2.0, chunk_size=4)
    for k, e in zip(target_layers(model), expected):
        torch.testing.assert_close(got.first[k], e, rtol=1e-10, atol=1e-14)
    per_sample = estimate_importance("gradient", model, [(x, y)], temperature=2.0)
    assert not torch.allclose(per_sample.first["0.weight"], got.first["0.weight"])


def test_baseline_is_one_for_every_weight_and_no_bias():
    model = conv_bn()
    imp = ESTIMATORS["baseline"](model, [])
    assert set(imp.first) == {"0.weight", "6.weight"}
    assert all(torch.equal(v, torch.ones_like(v)) for v in imp.first.values())


def test_max_samples_and_max_batches_truncate_the_stream():
    model = mlp()
    x, y = data(model)
    head = estimate_importance("gradient", model, [(x[:9], y[:9])])
    by_samples = estimate_importance("gradient", model, batches(x, y), max_samples=9)
    by_batches = estimate_importance("gradient", model, batches(x, y, (9, 3)), max_batches=1)
    for k in head.first:
        torch.testing.assert_close(by_samples.first[k], head.first[k], rtol=1e-12, atol=0)
        torch.testing.assert_close(by_batches.first[k], head.first[k], rtol=1e-12, atol=0)
    assert by_samples.n_samples == 9


def test_model_modes_and_requires_grad_are_restored():
    model = conv_bn()
    model.train()
    model[0].weight.requires_grad_(False)
    x, y = data(model)
    estimate_importance("gradient", model, [(x, y)])
    assert all(m.training for m in model.modules())
    assert not model[0].weight.requires_grad and model[6].weight.requires_grad


def test_shared_layer_and_batch_statistics_are_refused():
    x, y = data(mlp())
    shared = nn.Linear(6, 6).double()
    with pytest.raises(ValueError, match="more than once"):
        estimate_importance("fisher", nn.Sequential(shared, nn.ReLU(), shared).double(), [(x, y)])
    no_stats = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4, track_running_stats=False)).double()
    with pytest.raises(ValueError, match="running statistics"):
        estimate_importance("fisher", no_stats, [(x, y)])


@pytest.mark.parametrize("name, options, match", [
    ("magnitude", {}, "unknown importance estimator"),
    ("hessian", {"hessian_estimator": "lanczos"}, "unknown Hessian estimator"),
    ("gradient", {"temperature": 0.0}, "temperature"),
    ("hessian", {"mu": -1.0}, "mu"),
    ("fisher", {"per_sample": False}, "per_sample=False"),
    ("gradient", {"per_sample": False, "batch_size": 0}, "batch_size"),
])
def test_bad_options_fail_before_any_work(name, options, match):
    with pytest.raises(ValueError, match=match):
        estimate_importance(name, mlp(), iter(()), **options)


def test_labels_required_for_supervised_scores():
    model = mlp()
    x, _ = data(model)
    with pytest.raises(ValueError, match="labels"):
        estimate_importance("gradient", model, [x])
