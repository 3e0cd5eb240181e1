"""The family's rounds on a small network: exactly ceil(N p_t) fixed after round t, nested fixed sets,
fixed weights bit-identical (effective values and parameters) through further training, the
optimiser's clipping and masked decay, the sigma push on fixed sigmas, and resuming a stopped run."""
import pytest
import torch

from nncompress.core.errors import Paused
from nncompress.data.datamodule import SyntheticDataModule
from nncompress.methods.pwfn import rounds
from nncompress.methods.pwfn.fixing import fix_layers
from nncompress.methods.pwfn.module import PwfnModule
from nncompress.methods.pwfn.optim import FreeDecaySGD
from nncompress.methods.pwfn.rounds import STATE, TrainerOptions, round_plan, run_rounds
from nncompress.methods.pwfn.schedule import DEFAULT_SCHEDULE, fixed_target
from nncompress.methods.pwfn.settings import PwfnSettings
from nncompress.models.spec import ArchSpec

SPEC = ArchSpec("lenet300_100", {}, 1, 10, 8)  # 64-300-100-10: 50,610 weights and biases


def _dm():
    dm = SyntheticDataModule(n_train=400, n_test=100, input_shape=(1, 8, 8), val_size=0, batch_size=50,
                             device="cpu", seed=1)
    dm.setup()
    return dm


def _module(**settings) -> PwfnModule:
    torch.manual_seed(0)
    base = dict(batches_per_epoch=3, epochs_per_round=1, lr=0.05, log_every=1000)
    return PwfnModule(SPEC.build(), PwfnSettings(**{**base, **settings}))


def _state(layers):
    cat = torch.cat
    return {"mean": cat([layer.mean(n).detach().flatten() for layer in layers for n in layer.posterior_names]).clone(),
            "std": cat([layer.std(n).detach().flatten() for layer in layers for n in layer.posterior_names]).clone(),
            "mu": cat([layer.mu(n).detach().flatten() for layer in layers for n in layer.posterior_names]).clone(),
            "fixed": cat([layer.fixed(n).flatten() for layer in layers for n in layer.posterior_names]).clone()}


def _spy(monkeypatch):
    calls = []
    real = rounds.fix_layers

    def spy(layers, p, **options):
        before = _state(layers)
        report = real(layers, p, **options)
        calls.append((p, {"before": before, "after": _state(layers)}, report))
        return report

    monkeypatch.setattr(rounds, "fix_layers", spy)
    return calls


def test_rounds_fix_exactly_the_schedule_nested_and_keep_fixed_weights_bit_identical(tmp_path, monkeypatch):
    calls = _spy(monkeypatch)
    module = _module()
    outcome = run_rounds(module, _dm(), TrainerOptions(accelerator="cpu", root_dir=tmp_path), tmp_path)
    n = module.n_weights()
    assert [p for p, _, _ in calls] == list(DEFAULT_SCHEDULE)
    previous = None
    for t, (p, state, report) in enumerate(calls):
        fixed = state["after"]["fixed"]
        assert int(fixed.sum()) == fixed_target(n, p) == report.fixed_after == outcome.history[t]["n_fixed"]
        if previous is not None:
            was = previous["fixed"]
            assert bool(fixed[was].all())                        # nested
            before = state["before"]                             # after this round's training
            for key in ("mean", "mu", "std"):                    # fixed entries untouched, parameters too
                assert torch.equal(before[key][was], previous[key][was]), key
            assert not torch.equal(before["mean"][~was], previous["mean"][~was])  # the free ones trained
        previous = state["after"]
    assert outcome.history[-1]["fraction_fixed"] == 1.0
    assert [r["train_steps"] for r in outcome.history] == [1] + [3] * 9  # round 0: 5 % of 3 batches -> 1
    assert outcome.train_steps == 28 and outcome.epochs == 1 + 9
    assert set(outcome.snapshots) == {"init", "trained", "final"}


def test_round_plan():
    assert round_plan(0, 275, 3, 0.05) == (1, 14)
    assert round_plan(4, 275, 3, 0.05) == (3, 275)
    assert round_plan(0, 4, 5, 0.05) == (1, 1)


def test_free_decay_sgd_clips_then_decays_free_entries_only():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0, -3.0, 4.0]))
    q = torch.nn.Parameter(torch.tensor([0.5]))
    free = torch.tensor([True, False, True, True])
    opt = FreeDecaySGD([p, q], lr=0.1, momentum=0.9, weight_decay=0.01, clip_norm=1.0, free_masks={p: lambda: free})
    grad_p, grad_q = torch.tensor([3.0, 0.0, 0.0, 4.0]), torch.tensor([0.0])

    def closure():
        opt.zero_grad()
        p.grad, q.grad = grad_p.clone(), grad_q.clone()
        return torch.tensor(0.0)

    start_p, start_q = p.detach().clone(), q.detach().clone()
    opt.step(closure)
    clipped = grad_p / 5.0  # norm 5 -> 1
    expected_p = start_p - 0.1 * (clipped + 0.01 * start_p * free)
    expected_q = start_q - 0.1 * 0.01 * start_q  # decayed everywhere (not in free_masks)
    assert torch.allclose(p.detach(), expected_p) and torch.allclose(q.detach(), expected_q)
    assert p.detach()[1] == 2.0  # the fixed entry did not move at all


def test_push_fixed_raises_fixed_sigmas_toward_gamma_and_keeps_their_values(tmp_path):
    for push in (False, True):
        module = _module(push_fixed=push, schedule=(0.5, 1.0), alpha=2.0**-3)
        dm = _dm()
        fix_layers(module.layers(), 0.5)
        fixed_before = _state(module.layers())
        rounds.train_round(module, dm.train_dataloader(), 1, 3, TrainerOptions(accelerator="cpu", root_dir=tmp_path))
        after = _state(module.layers())
        was = fixed_before["fixed"]
        assert torch.equal(after["mean"][was], fixed_before["mean"][was])
        grew = after["std"][was] > fixed_before["std"][was]
        below = fixed_before["std"][was] < 0.05
        if push:  # every fixed sigma below the cap moved up, none past it
            assert bool(grew[below].all()) and bool((after["std"][was][below] <= 0.05).all())
        else:
            assert not bool(grew.any())


def test_a_stopped_run_resumes_to_the_same_network(tmp_path):
    options = TrainerOptions(accelerator="cpu", root_dir=tmp_path)
    straight_dir, stopped_dir = tmp_path / "straight", tmp_path / "stopped"
    straight_dir.mkdir()
    stopped_dir.mkdir()
    straight = _module()
    run_rounds(straight, _dm(), options, straight_dir)
    first = _module(stop_after_round=2)
    with pytest.raises(Paused):
        run_rounds(first, _dm(), options, stopped_dir)
    assert (stopped_dir / STATE).exists()
    resumed = _module(stop_after_round=2)  # the same command again
    outcome = run_rounds(resumed, _dm(), options, stopped_dir)
    assert [r["round"] for r in outcome.history] == list(range(10))
    a, b = _state(straight.layers()), _state(resumed.layers())
    assert torch.equal(a["mean"], b["mean"]) and torch.equal(a["fixed"], b["fixed"])
