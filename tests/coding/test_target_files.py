"""Issue 19: files of `_target_` architectures (coding.arch's @target manifest) from elsewhere.

A crafted file gets one error line (coding.container.ContainerError), never an import or a call of
a target off the allow-list, and never an allocation beyond what the header's checks allow."""
import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from nncompress.coding import varint
from nncompress.coding.arch import manifest
from nncompress.coding.codebook import CodebookNet
from nncompress.coding.codec import get_codec, read_file, write_file
from nncompress.coding.container import ContainerError, write_container
from nncompress.models.spec import TARGET, ArchSpec
from nncompress.models.targets import skeleton, trusted

RESNET = {"_target_": "torchvision.models.resnet18", "num_classes": 3}


class Small(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, 3)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


def craft(path, node, rest=b"", kind="codebook"):
    body = node if isinstance(node, bytes) else json.dumps(node).encode()
    payload = varint.encode(len(TARGET)) + TARGET.encode() + varint.encode(len(body)) + body + rest
    write_container(path, kind, payload)
    return path


def header(model, tensors=(), **sizes):
    return {"model": model, "in_channels": 3, "num_classes": 3, "image_size": 16, "hash_seed": 0, "hashing": {},
            "widths": None, "tensors": list(tensors), **sizes}


def refused(path, match, **kwargs):
    with pytest.raises(ContainerError, match=match) as info:
        if kwargs.get("model") is not None:
            with skeleton(kwargs["model"]):
                read_file(path)
        else:
            read_file(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def small_file(path, net=None):
    net = net or Small()
    spec = ArchSpec.of_target({"_target_": f"{__name__}.Small"}, 3, 3, 16)
    with skeleton(net):
        write_file(path, get_codec("codebook"), CodebookNet.from_network(spec, net, {}), 0)
    return path


def test_a_target_off_the_allow_list_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nclass Net: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    refused(craft(tmp_path / "a.cbk", header({"_target_": "evil_module.Net"})), "not on the allow-list")
    refused(craft(tmp_path / "b.cbk", header({"_target_": "os.system", "_args_": ["touch " + str(marker)]})),
            "not on the allow-list")
    # nested: an allowed outer target with a forbidden argument node
    refused(craft(tmp_path / "c.cbk", header({**RESNET, "norm_layer": {"_target_": "evil_module.Net"}})),
            "not on the allow-list")
    assert not marker.exists()
    assert "evil_module" not in sys.modules


def test_weights_from_elsewhere_are_refused(tmp_path):
    refused(craft(tmp_path / "w.cbk", header({**RESNET, "weights": "IMAGENET1K_V1"})), "weights from elsewhere")
    refused(craft(tmp_path / "p.cbk", header({"_target_": "timm.create_model", "model_name": "resnet18",
                                              "pretrained": True})), "weights from elsewhere")


def test_malformed_manifests(tmp_path):
    refused(craft(tmp_path / "j.cbk", b"{not json"), "not JSON")
    refused(craft(tmp_path / "k.cbk", {"model": RESNET}), "exactly the keys")
    refused(craft(tmp_path / "t.cbk", header(RESNET, in_channels="3")), "integers")
    deep = {"_target_": "torchvision.models.resnet18"}
    for _ in range(12):
        deep = {"_target_": "torchvision.models.resnet18", "x": [deep]}
    refused(craft(tmp_path / "d.cbk", header(deep)), "nested deeper")
    # a length field that claims far more than the file holds
    payload = varint.encode(len(TARGET)) + TARGET.encode() + varint.encode(1 << 40)
    write_container(tmp_path / "l.cbk", "codebook", payload)
    refused(tmp_path / "l.cbk", "limit")


def test_shape_bomb_is_refused_on_the_meta_device(tmp_path):
    """1e8 classes would need 51e9 parameters (200 GB): refused from shapes alone, in a fresh process
    whose peak memory grows by less than 300 MB."""
    path = craft(tmp_path / "bomb.cbk", header({**RESNET, "num_classes": 10**8}, num_classes=10**4))
    code = ("import resource, sys\nfrom nncompress.coding.codec import read_file\n"
            "from nncompress.coding.container import ContainerError\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"try:\n    read_file({str(path)!r})\nexcept ContainerError as e:\n    print('ERR', e)\n"
            "print('GROWTH_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert "over the limit" in out, out
    assert int(out.split("GROWTH_KB")[1]) < 300_000


def test_tensor_list_must_match_the_model(tmp_path):
    spec = ArchSpec.of_target(RESNET, 3, 3, 16)
    good = manifest(spec)
    bad = json.loads(json.dumps(good))
    bad["tensors"][0][2] = [64, 3, 3, 3]  # conv1.weight is [64, 3, 7, 7]
    refused(craft(tmp_path / "shape.cbk", bad), "does not match")
    renamed = json.loads(json.dumps(good))
    renamed["tensors"][1][0] = "bn1.scale"
    refused(craft(tmp_path / "name.cbk", renamed), "does not match")
    fewer = {**good, "tensors": good["tensors"][:-1]}
    refused(craft(tmp_path / "count.cbk", fewer), "lists")


def test_skeleton_that_does_not_match_the_file(tmp_path):
    path = small_file(tmp_path / "small.cbk")
    refused(path, "not on the allow-list")  # this test module is not allow-listed
    refused(path, "does not match", model=Small(width=5))
    with skeleton(Small()):
        _, decoded = read_file(path)
    assert isinstance(decoded.network, Small)


def test_trusting_the_file_imports_its_target(tmp_path):
    net = Small()
    path = small_file(tmp_path / "small.cbk", net)
    with trusted():
        _, decoded = read_file(path)
    for key, value in net.state_dict().items():
        assert torch.equal(decoded.network.state_dict()[key], value), key
