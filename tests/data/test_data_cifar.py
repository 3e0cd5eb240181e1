"""CIFAR-10/100 datamodules on small, format-true files written here (the real data is absent).

The files copy the official layout, which torchvision reads: a tar.gz with one top folder
(``cifar-10-batches-py`` / ``cifar-100-python``) of Python-2 pickled dicts (protocol 2, str keys and
data as Python 2 strings, numpy arrays under the ``numpy.core.multiarray`` path), members in a
non-sorted order as in the real tar, and the ``batches.meta`` / ``meta`` torchvision also checks.
Their md5s are not the official ones: the datamodules read them through a subclass of torchvision's
class carrying the md5s of these files (:func:`toy`), the documented way to override the table.
"""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest
import torch
from torchvision import datasets

from helpers import py2_pickle
from nncompress.core.errors import UserError
from nncompress.data import DataNotFoundError, TensorBatchLoader
from nncompress.data.cifar import (
    CIFAR10DataModule,
    CIFAR100DataModule,
    RandomCropFlipLoader,
    random_crop_flip,
)

UNREACHABLE = "http://127.0.0.1:9/"  # discard port on loopback: nothing leaves the machine
PER_BATCH, N_TEST = 4, 6  # CIFAR-10: 5 x 4 = 20 training images
C10, C100 = "cifar-10-batches-py", "cifar-100-python"


def images(n: int, seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    data[:, 0] = np.arange(n) + 100 * (seed % 2)  # pixel (R, 0, 0) identifies the image
    return data


def write_archive(path, top: str, members: dict) -> str:
    """tar.gz with ``top/`` and its members (name -> bytes); returns the md5 of the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(top)
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, payload in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return hashlib.md5(path.read_bytes()).hexdigest()


def cifar10_members(overrides=None):
    """(member name -> bytes for the archive, member name -> the dict it pickles)."""
    dicts = {}
    for i in range(1, 6):
        dicts[f"data_batch_{i}"] = {
            "batch_label": f"training batch {i} of 5",
            "labels": [(i * 3 + j) % 10 for j in range(PER_BATCH)],
            "data": images(PER_BATCH, i),
            "filenames": [f"img_{j}.png" for j in range(PER_BATCH)],
        }
    test = images(N_TEST, 7)
    test[1] = 0
    test[1, 2 * 1024 + 3 * 32 + 30] = 255  # channel 2 (B), row 3, column 30
    test[1, 0 * 1024 + 31 * 32 + 0] = 7  # channel 0 (R), row 31, column 0
    dicts["test_batch"] = {"batch_label": "testing batch 1 of 1", "labels": list(range(N_TEST)),
                           "data": test, "filenames": ["t.png"] * N_TEST}
    dicts.update(overrides or {})  # a bytes value is written as is (garbage, foreign pickles)
    payload = {"readme.html": b"<html></html>",
               "batches.meta": py2_pickle({"num_cases_per_batch": PER_BATCH, "num_vis": 3072,
                                           "label_names": [f"class{k}" for k in range(10)]})}
    # members deliberately out of name order: the loader must order batches by name
    for name in ["data_batch_4", "test_batch", "data_batch_3", "data_batch_2", "data_batch_5",
                 "data_batch_1"]:
        if name in dicts:
            d = dicts[name]
            payload[name] = d if isinstance(d, bytes) else py2_pickle(d)
    return payload, dicts


def toy(module_cls, members: dict, archive_md5=None, url=UNREACHABLE):
    """A subclass of the datamodule whose torchvision class checks the md5s of ``members`` (and of
    the archive), and downloads from ``url``."""
    tv = module_cls.dataset_class
    md5 = {n: hashlib.md5(b).hexdigest() for n, b in members.items()}
    md5.setdefault("data_batch_5", "0" * 32)  # a member the archive lacks still has an expected md5
    reader = type(tv.__name__, (tv,), {
        "tgz_md5": archive_md5, "url": url + tv.filename,
        "train_list": [[n, md5[n]] for n, _ in tv.train_list],
        "test_list": [[n, md5[n]] for n, _ in tv.test_list],
        "meta": {**tv.meta, "md5": md5[tv.meta["filename"]]},
    })
    return type(f"Toy{module_cls.__name__}", (module_cls,), {"dataset_class": reader})


def install(root, members, module_cls=CIFAR10DataModule):
    """The archive under ``root`` (torchvision's layout) and the datamodule class that reads it."""
    top = module_cls.dataset_class.base_folder
    md5 = write_archive(root / module_cls.dataset_class.filename, top, members)
    return toy(module_cls, members, md5)


@pytest.fixture
def c10(tmp_path):
    payload, arrays = cifar10_members()
    return tmp_path, arrays, install(tmp_path, payload)


def dm10(module_cls, root, **kw):
    kw.setdefault("val_size", 5)
    kw.setdefault("download", False)
    return module_cls(data_dir=root, device="cpu", batch_size=4, eval_batch_size=4, **kw)


def unnormalise(x, mean=0.5, std=0.5):
    return (x * (255.0 * std) + 255.0 * mean).round().to(torch.int64)


def test_load_raw_shapes_labels_and_batch_order(c10):
    root, arrays, cls = c10
    x_tr, y_tr, x_te, y_te = dm10(cls, root).load_raw()
    assert x_tr.shape == (20, 3, 32, 32) and x_tr.dtype == torch.uint8
    assert x_te.shape == (N_TEST, 3, 32, 32) and y_tr.dtype == y_te.dtype == torch.int64
    # data_batch_1..5 in name order, whatever the order inside the tar
    expected = sum((arrays[f"data_batch_{i}"]["labels"] for i in range(1, 6)), [])
    assert y_tr.tolist() == expected and y_te.tolist() == list(range(N_TEST))
    assert x_tr[4:8, 0, 0, 0].tolist() == list(range(4))  # batch 2's identifying pixels (seed 2)
    assert x_tr[:4, 0, 0, 0].tolist() == [100, 101, 102, 103]
    # every training image read back exactly: row c*1024 + r*32 + k is pixel (c, r, k)
    rows = np.concatenate([arrays[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    assert torch.equal(x_tr.reshape(20, 3072), torch.from_numpy(rows))


def test_pixel_order_and_normalisation(c10):
    root, arrays, cls = c10
    dm = dm10(cls, root)
    dm.setup()
    assert dm.x_test.dtype == torch.float32 and dm.x_test.shape[1:] == dm.input_shape == (3, 32, 32)
    raw = unnormalise(dm.x_test)
    marked = raw[1]
    assert marked[2, 3, 30] == 255 and marked[0, 31, 0] == 7
    assert marked.sum() == 255 + 7  # nothing else lit: no transposed / swapped planes
    assert dm.x_test[1, 1, 0, 0].item() == pytest.approx(-1.0)  # (0/255 - 0.5) / 0.5
    # every pixel: flat index c*1024 + r*32 + k of the row
    flat = torch.from_numpy(arrays["test_batch"]["data"].astype(np.int64))
    c, r, k = torch.meshgrid(torch.arange(3), torch.arange(32), torch.arange(32), indexing="ij")
    assert torch.equal(raw, flat[:, c * 1024 + r * 32 + k])
    assert dm.n_train == 15 and dm.in_memory


def test_standard_and_custom_normalisation(c10):
    root, _, cls = c10
    dm = dm10(cls, root, normalization="standard")
    dm.setup()
    mean, std = CIFAR10DataModule.STATS["standard"]
    for ch in range(3):
        got = dm.x_test[1, ch, 3, 30] if ch == 2 else dm.x_test[1, ch, 0, 5]
        want = ((255 if ch == 2 else 0) / 255 - mean[ch]) / std[ch]
        assert got.item() == pytest.approx(want, rel=1e-5)
    dm = dm10(cls, root, mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    dm.setup()
    assert dm.x_test[1, 2, 3, 30].item() == pytest.approx(1.0) and dm.x_test.min() >= 0
    with pytest.raises(ValueError, match="normalization"):
        dm10(cls, root, normalization="imagenet")
    with pytest.raises(ValueError, match="both"):
        dm10(cls, root, mean=[0.5, 0.5, 0.5])


def pool_indices(x_pool, x_split):
    """Where each (normalised) image of a split sits in the raw training pool."""
    raw = unnormalise(x_split).to(torch.uint8)
    return [int(torch.nonzero((x_pool == img).flatten(1).all(1))[0]) for img in raw]


def test_train_val_split(c10):
    root, _, cls = c10
    dm = dm10(cls, root, val_size=5)
    dm.setup()
    assert (len(dm.x_train), len(dm.x_val), len(dm.x_test)) == (15, 5, N_TEST)
    x_pool, y_pool = dm.load_raw()[:2]
    train_idx, val_idx = pool_indices(x_pool, dm.x_train), pool_indices(x_pool, dm.x_val)
    assert sorted(train_idx + val_idx) == list(range(20))  # disjoint, together the whole pool
    assert train_idx == sorted(train_idx) and val_idx == sorted(val_idx)  # original order kept
    assert dm.y_train.tolist() == y_pool[train_idx].tolist() and dm.y_val.tolist() == y_pool[val_idx].tolist()
    same, other = dm10(cls, root, val_size=5), dm10(cls, root, val_size=5, split_seed=1)
    same.setup()
    other.setup()
    assert pool_indices(x_pool, same.x_val) == val_idx and pool_indices(x_pool, other.x_val) != val_idx


def test_cifar100_fine_and_coarse(tmp_path):
    n_train, n_test = 12, 5
    train = {"filenames": ["f"] * n_train, "batch_label": "training batch 1 of 1",
             "fine_labels": [(7 * j) % 100 for j in range(n_train)],
             "coarse_labels": [(3 * j) % 20 for j in range(n_train)], "data": images(n_train, 3)}
    test = {"filenames": ["f"] * n_test, "batch_label": "testing batch 1 of 1",
            "fine_labels": [99, 0, 50, 1, 2], "coarse_labels": [19, 0, 10, 1, 2],
            "data": images(n_test, 4)}
    meta = {"fine_label_names": ["a"] * 100, "coarse_label_names": ["b"] * 20}
    members = {"meta": py2_pickle(meta), "test": py2_pickle(test), "train": py2_pickle(train)}
    cls = install(tmp_path, members, CIFAR100DataModule)
    kw = dict(data_dir=tmp_path, download=False, device="cpu", val_size=2)
    fine = cls(**kw)
    fine.setup()
    assert fine.num_classes == 100 and fine.name == "cifar100"
    assert fine.y_test.tolist() == [99, 0, 50, 1, 2]
    assert torch.cat([fine.y_train, fine.y_val]).sort().values.tolist() == sorted(train["fine_labels"])
    assert torch.equal(fine.load_raw()[0].reshape(n_train, 3072), torch.from_numpy(train["data"]))
    coarse = cls(labels="coarse", **kw)
    coarse.setup()
    assert coarse.num_classes == 20 and coarse.name == "cifar100_coarse"
    assert coarse.y_test.tolist() == [19, 0, 10, 1, 2]
    assert coarse.load_raw()[1].tolist() == train["coarse_labels"]
    assert torch.equal(coarse.x_test, fine.x_test) and fine.x_train.shape == (10, 3, 32, 32)
    with pytest.raises(ValueError, match="fine"):
        cls(labels="superclass", **kw)


@pytest.mark.parametrize("download", [False, True])
def test_missing_files_one_line_error_naming_folder(tmp_path, download):
    cls = toy(CIFAR10DataModule, cifar10_members()[0])  # its url is the unreachable loopback port
    dm = cls(data_dir=tmp_path / "data", download=download, device="cpu")
    with pytest.raises(DataNotFoundError) as info:
        dm.setup()
    msg = str(info.value)
    assert f"missing in {tmp_path / 'data'}:" in msg and "cifar-10-python.tar.gz" in msg
    assert f"{C10}/ with data_batch_1, " in msg and "test_batch, batches.meta" in msg
    assert "\n" not in msg and "NNCOMPRESS_DATA" in msg
    assert ("no network: cannot reach 127.0.0.1" if download else "download disabled") in msg
    assert not (tmp_path / "data").exists()  # nothing half-written


def test_official_md5_tables_are_torchvisions_and_env_default(monkeypatch, tmp_path):
    assert CIFAR10DataModule.dataset_class is datasets.CIFAR10
    assert CIFAR100DataModule.dataset_class is datasets.CIFAR100
    assert datasets.CIFAR10.tgz_md5 == "c58f30108f718f92721af3b95e74349a"
    assert datasets.CIFAR100.tgz_md5 == "eb9058c3a382ffc7106e4002c42a8d85"
    assert datasets.CIFAR10.url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    monkeypatch.setenv("NNCOMPRESS_DATA", str(tmp_path))
    assert CIFAR100DataModule(device="cpu").data_dir == str(tmp_path)


def test_wrong_md5_archive_is_reported_not_replaced(tmp_path):
    payload, _ = cifar10_members()
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_archive(archive, C10, payload)
    before = archive.read_bytes()
    official = "c58f30108f718f92721af3b95e74349a"
    with pytest.raises(DataNotFoundError) as info:
        dm10(CIFAR10DataModule, tmp_path, download=True).setup()
    got = hashlib.md5(before).hexdigest()
    assert f"corrupt in {tmp_path}: cifar-10-python.tar.gz (md5 {got}, expected {official}) (replace" in str(info.value)
    assert archive.read_bytes() == before and not (tmp_path / C10).exists()
    # the same files pass with check_md5=false (a copy of your own)
    dm = dm10(CIFAR10DataModule, tmp_path, check_md5=False)
    dm.setup()
    assert dm.x_test.shape == (N_TEST, 3, 32, 32)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_tampered_pickle_fails_the_md5_check_before_it_is_opened(c10, monkeypatch):
    root, _, cls = c10
    extract(root)
    (root / "cifar-10-python.tar.gz").unlink()
    evil = root / C10 / "data_batch_2"
    evil.write_bytes(py2_pickle({"data": _Exploit(), "labels": []}))
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(DataNotFoundError) as info:
        dm10(cls, root, download=True).setup()
    msg = str(info.value)
    assert f"corrupt in {root}: {C10}/data_batch_2 (md5 " in msg and "data_batch_1" not in msg
    assert called == []


def test_malformed_files_read_unchecked_give_one_line(tmp_path):
    payload, _ = cifar10_members({"data_batch_3": b"\x00garbage"})
    write_archive(tmp_path / "cifar-10-python.tar.gz", C10, payload)
    with pytest.raises(UserError) as info:  # run.py prints it as one line
        dm10(CIFAR10DataModule, tmp_path, check_md5=False).setup()
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'cifar-10-python.tar.gz'}:{C10}: not readable as cifar10 (") and "\n" not in msg
    good = cifar10_members()[1]["data_batch_1"]
    payload, _ = cifar10_members({"data_batch_1": {**good, "labels": [0, 1, 2, 10]}})
    cls = install(tmp_path / "b", payload)
    with pytest.raises(ValueError, match=r"labels outside \[0, 10\): min 0, max 10"):
        dm10(cls, tmp_path / "b").setup()


def test_archive_lacking_a_member(tmp_path):
    payload, _ = cifar10_members()
    del payload["data_batch_5"]
    cls = install(tmp_path, payload)
    with pytest.raises(DataNotFoundError, match=rf"lacks or holds wrong members of {C10}/: data_batch_5 \(missing\)$"):
        dm10(cls, tmp_path).setup()


def extract(root):
    with tarfile.open(root / "cifar-10-python.tar.gz") as tar:
        tar.extractall(root, filter="data")


def test_archive_unpacked_per_load_and_nothing_written(c10):
    root, _, cls = c10
    a = dm10(cls, root).load_raw()
    assert [p.name for p in root.iterdir()] == ["cifar-10-python.tar.gz"]  # data_dir untouched
    extract(root)
    (root / "cifar-10-python.tar.gz").unlink()  # the verified folder alone serves now
    b = dm10(cls, root).load_raw()
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    (root / C10 / "test_batch").unlink()  # incomplete folder, no archive
    with pytest.raises(DataNotFoundError) as info:
        dm10(cls, root).load_raw()
    assert f"missing in {root}: cifar-10-python.tar.gz (or its extracted" in str(info.value)


def test_archive_serves_when_the_extracted_folder_is_partial(c10):
    root, _, cls = c10
    extract(root)
    (root / C10 / "data_batch_3").write_bytes(b"a different copy")
    x = dm10(cls, root).load_raw()[0]  # the verified archive, unpacked elsewhere
    assert x.shape == (20, 3, 32, 32)
    assert (root / C10 / "data_batch_3").read_bytes() == b"a different copy"  # left as it is


def test_old_project_layout_is_pointed_at(tmp_path):
    payload, _ = cifar10_members()
    write_archive(tmp_path / "CIFAR10" / "raw" / "cifar-10-python.tar.gz", C10, payload)
    with pytest.raises(DataNotFoundError) as info:
        dm10(CIFAR10DataModule, tmp_path).setup()
    assert str(info.value).endswith(f"(found {tmp_path / 'CIFAR10' / 'raw'}: move its contents up to {tmp_path})")


# ---- augmentation -------------------------------------------------------------------------


def shifted_copy(img: np.ndarray, dy: int, dx: int, mirror: bool, fill, pad: int = 4) -> np.ndarray:
    c, h, w = img.shape
    big = np.empty((c, h + 2 * pad, w + 2 * pad), img.dtype)
    big[:] = np.asarray(fill, img.dtype).reshape(c, 1, 1)
    big[:, pad : pad + h, pad : pad + w] = img
    out = big[:, dy : dy + h, dx : dx + w]
    return out[:, :, ::-1] if mirror else out


def match_transform(src: np.ndarray, out: np.ndarray, fill):
    """All (dy, dx, mirror) that turn ``src`` into ``out``."""
    return [(dy, dx, m) for dy in range(9) for dx in range(9) for m in (False, True)
            if np.array_equal(shifted_copy(src, dy, dx, m, fill), out)]


def test_crop_flip_outputs_are_shifted_mirrored_copies_with_fill_border():
    x = torch.rand(64, 3, 32, 32) + 1.0  # > 0, so the fill border is recognisable
    fill = [-1.0, -2.0, -3.0]
    out = random_crop_flip(x, torch.Generator().manual_seed(0), 4, True, torch.tensor(fill))
    assert out.shape == x.shape and out.dtype == x.dtype
    seen = []
    for src, got in zip(x.numpy(), out.numpy()):
        matches = match_transform(src, got, fill)
        assert len(matches) == 1, matches  # random content: exactly one explanation
        seen.append(matches[0])
    dys, dxs, mirrors = zip(*seen)
    assert set(dys) | set(dxs) >= {0, 8} and len(set(dys)) >= 6  # offsets cover the range
    assert 16 < sum(mirrors) < 48  # about half mirrored
    no_flip = random_crop_flip(x, torch.Generator().manual_seed(0), 4, False)
    for src, got in zip(x.numpy()[:8], no_flip.numpy()[:8]):
        assert [m for _, _, m in match_transform(src, got, [0.0] * 3)] == [False]
    assert torch.equal(random_crop_flip(x, torch.Generator().manual_seed(1), padding=0, flip=False), x)


def test_augmenting_loader_is_seeded_and_keeps_labels():
    x, y = torch.rand(30, 3, 32, 32) + 1.0, torch.arange(30)
    make = lambda seed: RandomCropFlipLoader(x, y, 8, shuffle=True, seed=seed)  # noqa: E731
    a, b = make(5), make(5)
    epoch0 = list(a)
    assert len(a) == 4 and all(torch.equal(u[0], v[0]) and torch.equal(u[1], v[1]) for u, v in zip(epoch0, b))
    epoch1 = list(a)
    assert not torch.equal(epoch0[0][0], epoch1[0][0])  # new order and crops each epoch
    a.set_epoch(0)
    assert all(torch.equal(u[0], v[0]) for u, v in zip(epoch0, a))  # resumable
    assert not torch.equal(list(make(6))[0][0], epoch0[0][0])
    for xb, yb in epoch0:  # each image is a crop/flip of the image its label names
        for img, label in zip(xb.numpy(), yb.tolist()):
            assert match_transform(x[label].numpy(), img, [0.0] * 3)
    plain = RandomCropFlipLoader(x, y, 8, shuffle=False, seed=0)
    first, second = list(plain), list(plain)
    assert [t[1].tolist() for t in first] == [t[1].tolist() for t in second]  # unshuffled order
    assert not torch.equal(first[0][0], second[0][0])  # but new crops per epoch


def test_datamodule_augments_training_batches_only(c10):
    root, _, cls = c10
    dm = dm10(cls, root, val_size=4)
    dm.setup()
    train = dm.train_dataloader()
    assert isinstance(train, RandomCropFlipLoader) and torch.equal(train.fill, torch.full((3,), -1.0))
    batches = list(train)
    assert sum(len(b[1]) for b in batches) == 16
    changed = 0
    for xb, _ in batches:
        for img in xb:
            # find its source by content: some crop/flip of exactly one training image
            sources = [i for i, src in enumerate(dm.x_train)
                       if match_transform(src.numpy(), img.numpy(), [-1.0] * 3)]
            assert len(sources) == 1
            changed += not any(torch.equal(img, src) for src in dm.x_train)
    assert changed > 8  # most crops differ from the original
    again = dm10(cls, root, val_size=4)
    again.setup()
    assert all(torch.equal(u[0], v[0]) for u, v in zip(batches, again.train_dataloader()))
    # validation and test batches are the stored tensors, untouched
    for loader, xs, ys in [(dm.val_dataloader(), dm.x_val, dm.y_val),
                           (dm.test_dataloader(), dm.x_test, dm.y_test)]:
        assert type(loader) is TensorBatchLoader
        assert torch.equal(torch.cat([b[0] for b in loader]), xs)
        assert torch.equal(torch.cat([b[1] for b in loader]), ys)
    off = dm10(cls, root, val_size=4, augment=False)
    off.setup()
    plain = off.train_dataloader()
    assert type(plain) is TensorBatchLoader
    rows = torch.cat([b[0] for b in plain])
    assert all(any(torch.equal(r, src) for src in off.x_train) for r in rows)


@pytest.mark.parametrize("dataset, classes", [("cifar10", 10), ("cifar100", 100)])
def test_the_dataset_configs_instantiate(tmp_path, dataset, classes):
    """conf/dataset/cifar*.yaml pass `name` (read as cfg.dataset.name) to the module; a wrong one is
    refused; helpers.write_cifar's files are refused by the official md5s, read with check_md5=false."""
    from hydra.utils import instantiate

    from helpers import CIFAR_FILES, compose_cfg, write_cifar

    write_cifar(tmp_path, classes=classes)
    args = [f"dataset={dataset}", f"paths.data_dir={tmp_path}", "dataset.val_size=20", "dataset.device=cpu"]
    with pytest.raises(DataNotFoundError, match="corrupt"):
        instantiate(compose_cfg(args, hydra=False).dataset).setup()
    cfg = compose_cfg([*args, CIFAR_FILES], hydra=False)
    dm = instantiate(cfg.dataset)
    dm.setup()
    assert dm.name == dataset and dm.num_classes == classes and tuple(dm.x_train.shape[1:]) == (3, 32, 32)
    assert dm.n_train == 200 - 20 and len(dm.x_test) == 40
    with pytest.raises(Exception, match="reads 'cifar.*', not 'mnist'"):
        instantiate(cfg.dataset, name="mnist")
