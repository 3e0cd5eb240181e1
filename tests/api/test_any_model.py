"""Issue 19: every family compresses, writes, decodes and checks any model, through the Python API.

Models: a user-defined module (given as an object: decoding needs its skeleton), a transformers
image classifier built from its config, timm's DeiT-Tiny and torchvision's ResNet-18 (given as
`_target_` nodes: allow-listed, so a file decodes on its own). All randomly initialised, on small
random images. For each run: the file on disk is `compressed_bytes` long, the decoded network
evaluates to the test error the run recorded, and its outputs are those of the architecture
loaded with the weights the file stores (exported to safetensors and read back).

Full-size DeiT-Tiny (12 blocks) and ResNet-18 for every family take minutes each on a 2-core CPU:
they carry the `heavy` marker (make test-full), as do DeiT-Tiny with one block for the families
other than mkl and rd and ResNet-18 with the codebook family (1-5 min each here); the default
suite runs every family on the user module and the transformers ViT, and mkl and rd on DeiT.
"""
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nncompress
from nncompress.core.evaluation import logits_of

METHODS = {  # method -> overrides that keep it to seconds (scale=quick on top)
    "meankl": ["method.train_steps=10", "coding.candidates_log2=4", "coding.finetune_steps=0", "coding.progress=false"],
    "vd": ["method.train_steps=10"],
    "sws": ["method.train_steps=10"],
    "vd_sws": ["method.train_steps=10", "method.phase1_steps=5"],
    "pwfn": ["model.train.steps=10"],
    "rd": ["model.train.steps=10", "importance=fisher", "importance.n_samples=16"],
}
COMMON = ["trainer.progress_bar=false", "trainer.accelerator=cpu"]


class UserNet(nn.Module):
    """A user's own network: convolution, BatchNorm (buffers), a bias-free layer, a Conv1d."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.mix = nn.Conv1d(4, 4, 1, bias=False)
        self.fc = nn.Linear(4 * 16 * 16, 3)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x))).flatten(2)
        return self.fc(self.mix(h).flatten(1))


HF_VIT = {"_target_": "transformers.ViTForImageClassification",
          "config": {"_target_": "transformers.ViTConfig", "image_size": 16, "patch_size": 8, "num_channels": 3,
                     "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                     "num_labels": 3}}
DEIT = {"_target_": "timm.create_model", "model_name": "deit_tiny_patch16_224", "pretrained": False,
        "num_classes": 3, "img_size": 16, "patch_size": 8}
RESNET18 = {"_target_": "torchvision.models.resnet18", "num_classes": 3}


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 3, 16, 16, generator=g)
    y = torch.arange(48) % 3
    x[:, 0] += y[:, None, None].float()  # learnable from the first channel
    return TensorDataset(x[:32], y[:32]), TensorDataset(x[32:], y[32:])


def check(model, method, tmp_path, skeleton=None, block=512):
    train, test = data()
    res = nncompress.compress(model, (train, test), method=method, scale="quick", batch_size=8, block=block,
                              overrides=[*METHODS[method], *COMMON], out_dir=tmp_path / method)
    # The file is the size the run reports, and decodes on its own (or with the skeleton).
    assert res.path.stat().st_size == res["compressed_bytes"]
    net = nncompress.decode(res.path, model=skeleton)
    x, y = test.tensors
    with torch.no_grad():
        logits = logits_of(net(x))
    assert 100.0 * float((logits.argmax(1) != y).float().mean()) == pytest.approx(res["test_error"], abs=1e-9)
    # Outputs = the architecture loaded with the stored weights (safetensors round trip).
    out = nncompress.export(net, tmp_path / "net.safetensors", example=x)
    assert out["max_abs_diff"] == 0.0
    return res, net


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
def test_user_module(method, tmp_path):
    res, net = check(UserNet(), method, tmp_path, skeleton=UserNet())
    assert isinstance(net, UserNet)
    assert res["n_params"] == sum(p.numel() for p in UserNet().parameters())
    # Without the skeleton the file's model (this test module's class) is not on the allow-list.
    with pytest.raises(Exception, match="allow-list"):
        nncompress.decode(res.path)


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
def test_transformers_vit(method, tmp_path):
    _, net = check(HF_VIT, method, tmp_path)
    assert type(net).__name__ == "ViTForImageClassification"


@pytest.mark.slow
@pytest.mark.parametrize("method", [pytest.param(m, marks=[] if m in ("meankl", "rd") else [pytest.mark.heavy])
                                    for m in METHODS])
def test_timm_deit_tiny_one_block(method, tmp_path):
    _, net = check({**DEIT, "depth": 1}, method, tmp_path, block=65536)
    assert type(net).__name__ == "VisionTransformer" and len(net.blocks) == 1 and net.embed_dim == 192


@pytest.mark.slow
@pytest.mark.heavy
def test_torchvision_resnet18_codebook(tmp_path):
    res, net = check(RESNET18, "rd", tmp_path)
    assert res["n_params"] == 11_178_051 and type(net).__name__ == "ResNet"


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("model", ["deit_tiny", "resnet18"])
def test_full_size(model, method, tmp_path):
    check({"deit_tiny": DEIT, "resnet18": RESNET18}[model], method, tmp_path, block=65536)


def test_result_path_is_the_coders_file(tmp_path):
    """compress() finds the file whichever codec wrote it (here model.orc; before: model.mrc, .nnc, .cbk only)."""
    coder = "orc"  # (PFR's files do not store buffers yet: UserNet's batch norm)
    train, test = data()
    res = nncompress.compress(UserNet(), (train, test), method="meankl", scale="quick", batch_size=8, block=512,
                              coding=coder, overrides=[*METHODS["meankl"], *COMMON], out_dir=tmp_path)
    assert res.path == tmp_path / f"model.{coder}"
    assert res.path.stat().st_size == res["compressed_bytes"]
