"""Issue 19: the missing seed systems' recipes run end to end at a tiny scale, on small files in the
real formats that the tests write: MIRACLE on VGG-16 / CIFAR-10 (experiments/mkl_vgg16_cifar10)
and PWFN on torchvision's ResNet-18 over an ImageFolder (experiments/pwfn_imagenet's model), each
decoded again in a fresh process."""
import json

import pytest

from helpers import CIFAR_FILES, run_cli, write_cifar

pytestmark = [pytest.mark.slow, pytest.mark.heavy]  # minutes each on a 2-core CPU: make test-full
QUIET = ["trainer.progress_bar=false", "trainer.accelerator=cpu", "dataset.device=cpu"]


def write_image_folder(root, classes=3, per_class=4, size=36):
    """ROOT/{train,val}/<class>/*.png: the ImageNet layout, each class a different mean colour."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 60, (size, size, 3)) + 60 * c
                Image.fromarray(pixels.astype("uint8")).save(folder / f"img_{i}.png")
    return root


def test_miracle_vgg16_cifar10_quick(tmp_path):
    data = write_cifar(tmp_path / "data", classes=10, per_batch=8, n_test=16)
    run = tmp_path / "run"
    args = ["experiment=mkl_vgg16_cifar10", "hydra.mode=RUN", "method=meankl", "block=65536", "scale=quick",
            "method.train_steps=2", "coding.candidates_log2=3", "coding.finetune_steps=0", "coding.progress=false",
            "coding.checkpoint_seconds=100000",
            "dataset.batch_size=8", "dataset.val_size=0", CIFAR_FILES, *QUIET, f"hydra.run.dir={run}"]
    proc = run_cli(args, data_dir=data, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads((run / "results.json").read_text())
    assert r["model"] == "vgg16" and r["dataset"] == "cifar10" and r["n_params"] == 14_990_922
    assert r["n_blocks"] == -(-14_990_922 // 65536) and r["compressed_bytes"] == (run / "model.mrc").stat().st_size
    assert r["ratio_paper"] == pytest.approx(32 * 14_990_922 / (r["n_blocks"] * 20))
    dec = run_cli(["task=decode", f"file={run / 'model.mrc'}", "dataset=cifar10", "dataset.val_size=0", CIFAR_FILES,
                   *QUIET[2:],
                   f"hydra.run.dir={run / 'decode'}"], data_dir=data)
    assert dec.returncode == 0, dec.stderr[-3000:]
    record = json.loads((run / "decode" / "decode.json").read_text())
    assert record["weights_sha256"] == r["weights_sha256"] and record["test_error"] == r["test_error_compressed"]


def test_pwfn_torchvision_resnet18_image_folder_quick(tmp_path):
    root = write_image_folder(tmp_path / "images")
    run = tmp_path / "run"
    data = ["dataset=imagefolder", f"dataset.root={root}", "dataset.image_size=32", "dataset.batch_size=6",
            "dataset.eval_batch_size=6", "dataset.num_workers=0"]
    args = ["method=pwfn", "model=torchvision_resnet18", "model.weights=null", "model.num_classes=3", "init_from=model",
            "scale=quick", "method.epochs_per_round=1", "method.batches_per_epoch=2", *data, *QUIET[:2],
            f"hydra.run.dir={run}"]
    proc = run_cli(args, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads((run / "results.json").read_text())
    assert r["model"] == "torchvision_resnet18" and r["n_params"] == 11_178_051
    assert r["fraction_fixed"] == 1.0 and r["compressed_bytes"] == (run / "model.cbk").stat().st_size
    assert r["unique_values"] <= 2 * 4 * 4 * 64 + 1  # centres are sums of at most 4 powers of two
    dec = run_cli(["task=decode", f"file={run / 'model.cbk'}", *data, f"hydra.run.dir={run / 'decode'}"])
    assert dec.returncode == 0, dec.stderr[-3000:]
    record = json.loads((run / "decode" / "decode.json").read_text())
    assert record["test_error"] == r["test_error_compressed"]
