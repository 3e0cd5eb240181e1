import pytest
import torch

from nncompress.data import SyntheticDataModule


def build(**kw):
    dm = SyntheticDataModule(device="cpu", **kw)
    dm.setup()
    return dm


def test_deterministic_given_seed():
    a, b, c = build(seed=1), build(seed=1), build(seed=2)
    for attr in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, attr), getattr(b, attr))
    assert not torch.equal(a.x_train, c.x_train)
    assert [y.tolist() for _, y in a.train_dataloader()] == [y.tolist() for _, y in b.train_dataloader()]


def test_shapes_and_attributes():
    dm = build(n_train=300, n_test=40, input_shape=(3, 8, 8), num_classes=4, val_size=60)
    assert dm.x_train.shape == (240, 3, 8, 8) and dm.x_val.shape == (60, 3, 8, 8)
    assert dm.x_test.shape == (40, 3, 8, 8) and dm.y_test.dtype == torch.int64
    assert dm.input_shape == (3, 8, 8) and dm.num_classes == 4 and dm.name == "synthetic"
    assert set(dm.y_train.unique().tolist()) == {0, 1, 2, 3}  # every class occurs


def test_val_size_zero_and_too_large():
    dm = build(n_train=100, val_size=0)
    assert not dm.has_val and len(dm.x_train) == 100 and len(dm.val_dataloader()) == 0
    with pytest.raises(ValueError):
        build(n_train=100, val_size=100)


def test_move_to_and_auto_device():
    dm = build(n_train=100, val_size=10)
    dm.move_to("cpu")
    assert dm.x_train.device.type == "cpu" and next(iter(dm.train_dataloader()))[0].device.type == "cpu"
    auto = SyntheticDataModule(n_train=50, val_size=5)
    assert auto.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.gpu
def test_cuda_placement():
    dm = SyntheticDataModule(n_train=100, val_size=10, device="cuda")
    dm.setup()
    x, y = next(iter(dm.train_dataloader()))
    assert x.is_cuda and y.is_cuda
    dm.move_to("cpu")
    assert not next(iter(dm.test_dataloader()))[0].is_cuda


def test_rule_is_learnable():
    # A least-squares linear fit to one-hot targets (closed form: fast) must generalise well.
    dm = build(n_train=2000, n_test=500, input_shape=(1, 4, 4), num_classes=5, val_size=0, seed=0)

    def features(x):
        return torch.cat([x.flatten(1), torch.ones(len(x), 1)], 1)

    targets = torch.nn.functional.one_hot(dm.y_train, 5).float()
    weight = torch.linalg.lstsq(features(dm.x_train), targets).solution
    acc = (features(dm.x_test) @ weight).argmax(1).eq(dm.y_test).float().mean().item()
    assert acc > 0.85
