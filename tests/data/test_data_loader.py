import pytest
import torch

from nncompress.data import SyntheticDataModule, TensorBatchLoader


def make(n=103, **kw):
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    return TensorBatchLoader(x, torch.arange(n), **kw)


def indices(loader):
    return [y.tolist() for _, y in loader]


@pytest.mark.parametrize("shuffle", [False, True])
def test_epoch_visits_every_index_once(shuffle):
    loader = make(batch_size=10, shuffle=shuffle, seed=3)
    batches = indices(loader)
    assert len(batches) == len(loader) == 11
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert [len(b) for b in batches] == [10] * 10 + [3]


def test_x_and_y_stay_aligned():
    for x, y in make(batch_size=16, shuffle=True):
        assert torch.equal(x.squeeze(1).long(), y)


def test_drop_last():
    loader = make(batch_size=10, shuffle=True, drop_last=True)
    batches = indices(loader)
    assert len(loader) == len(batches) == 10
    assert all(len(b) == 10 for b in batches)
    assert len(make(n=100, batch_size=10, drop_last=True)) == 10
    assert len(make(n=0, batch_size=10)) == 0 and indices(make(n=0, batch_size=10)) == []


def test_same_seed_same_batches_and_epochs_differ():
    a, b = make(batch_size=8, shuffle=True, seed=7), make(batch_size=8, shuffle=True, seed=7)
    first_a, first_b = indices(a), indices(b)
    assert first_a == first_b
    second_a = indices(a)
    assert second_a != first_a
    assert second_a == indices(b)  # both on epoch 1 now
    a.set_epoch(0)
    assert indices(a) == first_a
    assert indices(make(batch_size=8, shuffle=True, seed=8)) != first_a


def test_unshuffled_order_and_invalid_args():
    assert indices(make(n=5, batch_size=2)) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError):
        make(batch_size=0)
    with pytest.raises(ValueError):
        TensorBatchLoader(torch.zeros(3), torch.zeros(4), batch_size=2)


def test_lightning_fit_with_and_without_validation():
    import lightning as L  # a core dependency: its absence is a failure, not a skip

    class Tiny(L.LightningModule):
        def __init__(self, d, k):
            super().__init__()
            self.lin = torch.nn.Linear(d, k)
            self.seen = []

        def training_step(self, batch, _):
            x, y = batch
            self.seen.append(len(y))
            return torch.nn.functional.cross_entropy(self.lin(x.flatten(1)), y)

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.lin(x.flatten(1)), y))

        def test_step(self, batch, _):
            x, y = batch
            self.log("test_loss", torch.nn.functional.cross_entropy(self.lin(x.flatten(1)), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    common = dict(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False)
    for val_size in (50, 0):
        dm = SyntheticDataModule(n_train=250, n_test=50, input_shape=(1, 4, 4), val_size=val_size,
                                 batch_size=64, device="cpu")
        model = Tiny(16, 10)
        limit = {} if dm.has_val else {"limit_val_batches": 0}
        trainer = L.Trainer(**common, **limit)
        trainer.fit(model, datamodule=dm)
        per_epoch = [64, 64, 64, 250 - val_size - 192]
        assert model.seen == per_epoch * 2
        if dm.has_val:
            assert "val_loss" in trainer.callback_metrics
        result = trainer.test(model, datamodule=dm, verbose=False)
        assert result and "test_loss" in result[0]
