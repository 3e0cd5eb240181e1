"""ImageFolderDataModule on a tiny folder in the ImageNet layout written here (3 classes x 4 images of
40 x 40 for training, 2 per class for evaluation; PNG and JPEG)."""

import numpy as np
import pytest
import torch
from PIL import Image

from nncompress.core.errors import UserError
from nncompress.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DataModuleProtocol,
    DataNotFoundError,
    DeviceLoader,
    ImageFolderDataModule,
)

CLASSES = ["n01_cat", "n02_dog", "n03_owl"]  # sorted folder names: labels 0, 1, 2
COLOURS = {"n01_cat": (255, 0, 0), "n02_dog": (0, 128, 255), "n03_owl": (40, 200, 90)}


def write_folder(root, n_train=4, n_val=2):
    """Solid-colour images (the colour tells the class) with the image index in pixel (0, 0)'s
    neighbourhood-free corner; owl images are JPEG (the ImageNet format), the others PNG."""
    for split, n in (("train", n_train), ("val", n_val)):
        for name in CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                img = np.empty((40, 40, 3), np.uint8)
                img[:] = COLOURS[name]
                img[:20, :, 1] = 10 * i  # the top half's green channel tells the image
                suffix = "JPEG" if name == "n03_owl" else "png"
                Image.fromarray(img).save(folder / f"{name}_{i}.{suffix}")
    return root


@pytest.fixture
def root(tmp_path):
    return write_folder(tmp_path / "imagenet")


def dm_for(root, **kw):
    kw = {"image_size": 32, "batch_size": 4, "eval_batch_size": 4, "num_workers": 0, "device": "cpu", **kw}
    return ImageFolderDataModule(root, **kw)


def normalised(rgb):
    return [(c / 255 - m) / s for c, m, s in zip(rgb, IMAGENET_MEAN, IMAGENET_STD)]


def test_classes_counts_and_protocol(root):
    dm = dm_for(root)
    assert isinstance(dm, DataModuleProtocol) and not dm.in_memory and not dm.has_val
    assert dm.input_shape == (3, 32, 32) and dm.num_classes == 3 and dm.classes == CLASSES
    assert dm.n_train == 12 and len(dm.test_set) == 6 and dm.name == "imagefolder"
    test = dm.test_dataloader()
    assert isinstance(test, DeviceLoader) and len(test) == 2 and len(dm.train_dataloader()) == 3
    ys = torch.cat([y for _, y in test])
    assert ys.tolist() == [0, 0, 1, 1, 2, 2] and ys.dtype == torch.int64


def test_eval_path_is_deterministic_and_normalised(root):
    dm = dm_for(root)
    first = [(x.clone(), y) for x, y in dm.test_dataloader()]
    second = list(dm.test_dataloader())
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, second))
    x = torch.cat([b[0] for b in first])
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.float32
    # Resize(36) then CenterCrop(32) of a 40 x 40 image: rows 2..33 of 36; the bottom half keeps the
    # class colour exactly (PNG, lossless), up to resampling at the seam
    for img, name in zip(x[:4], ["n01_cat", "n01_cat", "n02_dog", "n02_dog"]):
        want = torch.tensor(normalised(COLOURS[name])).view(3, 1)
        assert torch.allclose(img[:, 20:, :].flatten(1), want.expand(3, 12 * 32), atol=1e-5)
    # JPEG: lossy, but close to the colour
    owl = x[4:, :, 24:, 8:24].mean((0, 2, 3))
    assert torch.allclose(owl, torch.tensor(normalised(COLOURS["n03_owl"])), atol=0.06)
    # the top half's green channel tells the image: image 1 of the cat class, 10 / 255
    assert x[1, 1, 4, 16].item() == pytest.approx(normalised((0, 10, 0))[1], abs=1e-5)


def test_train_path_crops_flips_and_is_seeded_with_workers(root):
    dm = dm_for(root, num_workers=1, shuffle_seed=5)
    loader = dm.train_dataloader()
    epoch0 = [(x.clone(), y.clone()) for x, y in loader]
    assert [tuple(x.shape) for x, _ in epoch0] == [(4, 3, 32, 32)] * 3
    assert sorted(torch.cat([y for _, y in epoch0]).tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    epoch1 = list(loader)
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(epoch0, epoch1))  # new order and crops
    loader.set_epoch(0)
    again = list(loader)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(epoch0, again))
    other = list(dm_for(root, num_workers=1, shuffle_seed=6).train_dataloader())
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(epoch0, other))
    # every training image is a crop of its class's colour (bottom rows: the class colour)
    for x, y in epoch0:
        for img, label in zip(x, y.tolist()):
            red = normalised(COLOURS[CLASSES[label]])[0]
            assert img[0, -1].mean().item() == pytest.approx(red, abs=0.1)


def test_val_held_out_of_train_with_eval_transforms(root):
    dm = dm_for(root, val_size=3, split_seed=1)
    assert dm.has_val and dm.n_train == 9 and len(dm.val_set) == 3
    xs = torch.cat([x for x, _ in dm.val_dataloader()])
    assert torch.equal(xs, torch.cat([x for x, _ in dm.val_dataloader()]))  # evaluation: deterministic
    held = set(dm.val_set.indices)
    assert held.isdisjoint(dm.train_set.indices) and len(held | set(dm.train_set.indices)) == 12
    again = dm_for(root, val_size=3, split_seed=1)
    again.setup()
    assert again.val_set.indices == dm.val_set.indices


def test_errors_are_one_line_and_name_the_folder(root, tmp_path):
    unset = ImageFolderDataModule(None)  # raised at setup: Hydra's instantiate would wrap it
    with pytest.raises(DataNotFoundError, match=r"^no image folder given: set dataset.root to a folder laid out as "
                                                r"<root>/train/<class>/\*.JPEG and <root>/val/<class>/\*.JPEG$"):
        unset.setup()
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError) as info:
        dm_for(missing).setup()
    assert str(info.value).startswith(f"image folder missing: {missing / 'train'} (expected ")
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match=r"has 3 class folders, expected 1000"):  # one line from run.py
        dm_for(root, num_classes=1000).setup()
    (root / "val" / "n02_dog").rename(root / "val" / "n02_wolf")
    with pytest.raises(ValueError, match=r"classes differ .* extra \['n02_wolf'\], lacking \['n02_dog'\]"):
        dm_for(root).setup()
    empty = tmp_path / "empty"
    (empty / "train" / "a").mkdir(parents=True)
    (empty / "val" / "a").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match=f"{empty / 'train'}: .*no valid file"):
        dm_for(empty).setup()


def test_configs_select_imagefolder_and_imagenet(root, tmp_path):
    from hydra.utils import instantiate

    from helpers import compose_cfg

    cfg = compose_cfg(["dataset=imagefolder", f"dataset.root={root}", "dataset.image_size=32",
                       "dataset.num_workers=0", "dataset.device=cpu"], hydra=False)
    dm = instantiate(cfg.dataset)
    assert isinstance(dm, ImageFolderDataModule) and dm.num_classes == 3 and dm.input_shape == (3, 32, 32)
    assert dm.batch_size == 256 and dm.test_dir == "val" and dm.n_train == 12
    data = tmp_path / "data"
    net = compose_cfg(["dataset=imagenet", f"paths.data_dir={data}"], hydra=False).dataset
    assert (net.name, net.image_size, net.num_classes, net.root) == ("imagenet", 224, 1000, f"{data}/imagenet")
    imagenet = instantiate(net, device="cpu")
    assert imagenet.input_shape == (3, 224, 224) and imagenet.name == "imagenet"
    with pytest.raises(DataNotFoundError, match=f"image folder missing: {data}/imagenet/train"):
        imagenet.setup()
    data.mkdir()
    root.rename(data / "imagenet")  # 3 classes where ImageNet has 1000: refused
    with pytest.raises(ValueError, match="has 3 class folders, expected 1000"):
        instantiate(net, device="cpu").setup()
