"""Checks on the real MNIST / Fashion-MNIST files, read by torchvision (skipped when the data folder
is absent), against published facts: md5s, sizes, class counts, mean pixel."""

import pytest
import torch
from torchvision.datasets.utils import calculate_md5

from nncompress.data import DataModuleProtocol, MNISTDataModule

MD5 = {  # the official files (Yann LeCun's site, Zalando's repository); torchvision lists the same
    "MNIST": ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
              "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"],
    "FashionMNIST": ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                     "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"],
}

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module", params=["mnist", "fashion_mnist"])
def dm(request, real_data_dir):
    module = MNISTDataModule(request.param, data_dir=real_data_dir, download=False, device="cpu")
    module.setup()
    return module


def test_files_are_the_official_ones_and_torchvisions_table(dm, real_data_dir):
    cls = dm.dataset_class
    assert cls.__name__ == {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[dm.name]
    assert [md5 for _, md5 in cls.resources] == MD5[cls.__name__]
    for name, md5 in cls.resources:
        assert calculate_md5(real_data_dir / cls.__name__ / "raw" / name) == md5


def test_split_sizes_shapes_dtypes(dm):
    assert isinstance(dm, DataModuleProtocol) and dm.in_memory and dm.n_train == 55_000
    assert (len(dm.x_train), len(dm.x_val), len(dm.x_test)) == (55_000, 5_000, 10_000)
    assert (len(dm.y_train), len(dm.y_val), len(dm.y_test)) == (55_000, 5_000, 10_000)
    assert dm.x_train.shape[1:] == (1, 28, 28) == dm.input_shape
    assert dm.x_train.dtype == torch.float32 and dm.y_train.dtype == torch.int64
    assert dm.num_classes == 10 and dm.has_val
    assert dm.y_test.min() == 0 and dm.y_test.max() == 9


def test_class_counts(dm):
    if dm.name == "mnist":
        test_counts, train_counts = MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS
    else:
        test_counts, train_counts = [1000] * 10, [6000] * 10
    assert torch.bincount(dm.y_test, minlength=10).tolist() == test_counts
    # train + val together are the whole official training set
    pool = torch.cat([dm.y_train, dm.y_val])
    assert torch.bincount(pool, minlength=10).tolist() == train_counts


def test_raw_pixel_mean(dm):
    x_train = dm.load_raw()[0]
    assert x_train.dtype == torch.uint8 and x_train.shape == (60_000, 28, 28)
    expected = {"mnist": 0.1307, "fashion_mnist": 0.2860}[dm.name]
    assert x_train.float().div(255).mean().item() == pytest.approx(expected, abs=5e-4)


def test_normalised_statistics(dm):
    assert dm.x_train.mean().item() == pytest.approx(0.0, abs=0.02)
    assert dm.x_train.std().item() == pytest.approx(1.0, abs=0.02)


def test_loaders(dm):
    assert len(dm.train_dataloader()) == 55_000 // 200
    assert len(dm.val_dataloader()) == 5 and len(dm.test_dataloader()) == 10
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (1000, 1, 28, 28) and torch.equal(y, dm.y_test[:1000])


def test_split_is_seeded_and_setup_idempotent(dm, real_data_dir):
    x_train = dm.x_train
    dm.setup("fit")
    assert dm.x_train is x_train  # no reload
    other = MNISTDataModule(dm.name, data_dir=real_data_dir, download=False, device="cpu", split_seed=1)
    other.setup()
    assert not torch.equal(other.y_val, dm.y_val)
