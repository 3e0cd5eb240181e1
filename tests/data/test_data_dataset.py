"""DatasetDataModule: a user's torch Datasets as a datamodule, in memory when small, else streamed."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset, TensorDataset

from nncompress.core import evaluation
from nncompress.data import DataModuleProtocol, DatasetDataModule, DeviceLoader, TensorBatchLoader


def tensors(n, shape=(1, 4, 4), k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    return x, torch.arange(n) % k


class Pairs(Dataset):
    """A plain Dataset of (numpy array, numpy int) pairs, no .classes or .targets."""

    def __init__(self, n, k=4):
        self.x = np.arange(n * 6, dtype=np.float64).reshape(n, 2, 3)
        self.y = np.arange(n) % k

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_small_tensor_datasets_are_held_in_memory():
    xtr, ytr = tensors(50)
    xte, yte = tensors(20, seed=1)
    dm = DatasetDataModule(TensorDataset(xtr, ytr), TensorDataset(xte, yte), batch_size=16, eval_batch_size=8,
                           device="cpu")
    assert isinstance(dm, DataModuleProtocol) and dm.in_memory
    assert dm.input_shape == (1, 4, 4) and dm.memory_bytes == 70 * 16 * 4
    assert dm.num_classes == 3 and dm.n_train == 50 and not dm.has_val and dm.name == "custom"
    assert torch.equal(dm.x_train, xtr) and torch.equal(dm.y_test, yte) and dm.y_train.dtype == torch.int64
    train, test = dm.train_dataloader(), dm.test_dataloader()
    assert type(train) is TensorBatchLoader and len(train) == 4 and len(test) == 3
    assert sorted(torch.cat([y for _, y in train]).tolist()) == sorted(ytr.tolist())
    assert torch.equal(torch.cat([x for x, _ in test]), xte)
    # evaluation helpers take any protocol loader as is: a "network" that reads the label off x
    lookup = {round(float(x.sum()), 4): int(y) for x, y in zip(xte, yte)}

    def net(xb):
        return torch.nn.functional.one_hot(torch.tensor([lookup[round(float(v.sum()), 4)] for v in xb]), 3)

    assert evaluation.test_error(net, None, dm.test_dataloader()) == 0.0


def test_val_held_out_or_given():
    xtr, ytr = tensors(40)
    test = TensorDataset(*tensors(10, seed=1))
    held = DatasetDataModule(TensorDataset(xtr, ytr), test, val_size=8, split_seed=3, device="cpu")
    assert held.has_val and held.n_train == 32 and len(held.x_val) == 8
    pool = {tuple(x.flatten().tolist()) for x in torch.cat([held.x_train, held.x_val])}
    assert len(pool) == 40 and pool == {tuple(x.flatten().tolist()) for x in xtr}  # disjoint, complete
    again = DatasetDataModule(TensorDataset(xtr, ytr), test, val_size=8, split_seed=3, device="cpu")
    again.setup()
    assert torch.equal(again.x_val, held.x_val)
    other = DatasetDataModule(TensorDataset(xtr, ytr), test, val_size=8, split_seed=4, device="cpu")
    other.setup()
    assert not torch.equal(other.x_val, held.x_val)
    val = TensorDataset(*tensors(6, seed=2))
    given = DatasetDataModule(TensorDataset(xtr, ytr), test, val, device="cpu")
    assert given.has_val and given.n_train == 40 and torch.equal(given.x_val, val.tensors[0])
    with pytest.raises(ValueError, match="val_size must be 0"):
        DatasetDataModule(TensorDataset(xtr, ytr), test, val, val_size=4, device="cpu").setup()


def test_custom_dataset_numpy_and_pil_items():
    dm = DatasetDataModule(Pairs(10), Pairs(5), device="cpu")
    assert dm.input_shape == (2, 3) and dm.num_classes == 4 and dm.x_train.dtype == torch.float32
    assert dm.x_train[3].tolist() == [[18.0, 19.0, 20.0], [21.0, 22.0, 23.0]]
    assert dm.y_train.tolist()[:5] == [0, 1, 2, 3, 0]

    class Images(Pairs):
        def __getitem__(self, i):
            return Image.new("RGB", (5, 4), (255, 0, 51 * (i % 6))), int(self.y[i])

    dm = DatasetDataModule(Images(6), Images(2), num_classes=4, device="cpu")
    assert dm.input_shape == (3, 4, 5)  # to_tensor: C, H, W in [0, 1]
    assert dm.x_train is None  # loaded by setup(), as every datamodule
    dm.setup()
    assert dm.x_train[5, :, 0, 0].tolist() == [1.0, 0.0, 1.0] and dm.x_train[1, 2, 3, 4].item() == pytest.approx(0.2)


def test_large_or_forced_sets_stream_and_labels_need_a_source():
    xtr, ytr = tensors(30)
    xte, yte = tensors(12, seed=1)

    def streamed(**kw):
        return DatasetDataModule(TensorDataset(xtr, ytr), TensorDataset(xte, yte), num_classes=3, batch_size=8,
                                 eval_batch_size=5, device="cpu", **kw)

    dm = streamed(max_memory_bytes=1000)  # 42 x 16 float32 = 2688 bytes: over the limit
    assert not dm.in_memory and dm.x_train is None and dm.n_train == 30 and isinstance(dm, DataModuleProtocol)
    test = dm.test_dataloader()
    assert isinstance(test, DeviceLoader) and len(test) == 3
    assert torch.equal(torch.cat([x for x, _ in test]), xte) and torch.equal(torch.cat([y for _, y in test]), yte)
    a = [y.tolist() for _, y in dm.train_dataloader()]
    assert a == [y.tolist() for _, y in streamed(in_memory=False).train_dataloader()]
    assert [len(v) for v in a] == [8, 8, 8, 6] and sorted(sum(a, [])) == sorted(ytr.tolist())
    loader = dm.train_dataloader()
    first, second = [y.tolist() for _, y in loader], [y.tolist() for _, y in loader]
    assert first == a and second != first  # a new order per epoch, the same for the same (seed, epoch)
    loader.set_epoch(0)
    assert [y.tolist() for _, y in loader] == a
    assert [y.tolist() for _, y in streamed(in_memory=False, shuffle_seed=1).train_dataloader()] != a
    with pytest.raises(ValueError, match="give num_classes"):
        DatasetDataModule(Pairs(10), Pairs(5), in_memory=False, device="cpu")
    ds = Pairs(10)
    ds.targets = ds.y.tolist()  # torchvision's convention: read without loading the inputs
    assert DatasetDataModule(ds, Pairs(5), in_memory=False, device="cpu").num_classes == 4
    forced = streamed(in_memory=True, max_memory_bytes=1)
    forced.setup()
    assert forced.in_memory and len(forced.x_train) == 30
    with pytest.raises(ValueError, match="in_memory"):
        streamed(in_memory="maybe")


def test_bad_labels_are_refused():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="class indices"):
        DatasetDataModule(TensorDataset(x, torch.tensor([0.0, 1.5, 2.0, 0.0])), TensorDataset(x, torch.zeros(4)),
                          device="cpu").setup()
    with pytest.raises(ValueError, match=r"labels outside \[0, 2\): min 0, max 3"):
        DatasetDataModule(TensorDataset(x, torch.tensor([0, 1, 3, 0])), TensorDataset(x, torch.zeros(4)),
                          num_classes=2, device="cpu").setup()
    with pytest.raises(ValueError, match="empty"):
        DatasetDataModule(TensorDataset(x[:0], torch.zeros(0)), TensorDataset(x, torch.zeros(4)))


@pytest.mark.parametrize("in_memory", [True, False])
def test_lightning_fit_in_memory_and_streamed(in_memory):
    import lightning as L

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(16, 3)
            self.seen = []

        def training_step(self, batch, _):
            x, y = batch
            self.seen.append(len(y))
            return torch.nn.functional.cross_entropy(self.lin(x.flatten(1)), y)

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.cross_entropy(self.lin(batch[0].flatten(1)), batch[1]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = DatasetDataModule(TensorDataset(*tensors(50)), TensorDataset(*tensors(10, seed=1)), val_size=10,
                           batch_size=16, in_memory=in_memory, num_classes=3, device="cpu")
    model = Tiny()
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    assert model.seen == [16, 16, 8] * 2 and "val_loss" in trainer.callback_metrics
