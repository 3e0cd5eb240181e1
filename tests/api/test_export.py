"""Export of decoded networks (issue 19): safetensors and ONNX, each checked against the network."""
import pytest
import torch
from torch import nn

from nncompress.core.errors import UserError
from nncompress.tasks.export import export_module


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


class Untraceable(Net):
    def forward(self, x):
        return torch.tensor(x.numpy()[:, :5, 0, 0])  # leaves the graph: ONNX cannot express it


def trained_net():
    torch.manual_seed(0)
    net = Net()
    net.train()
    with torch.no_grad():  # BatchNorm statistics away from their defaults
        for _ in range(3):
            net(torch.randn(8, 3, 10, 10) * 3 + 1)
    return net.eval()


def test_safetensors_round_trip_is_exact(tmp_path):
    from safetensors.torch import load_file

    net, x = trained_net(), torch.randn(4, 3, 10, 10)
    out = export_module(net, tmp_path / "net.safetensors", example=x)
    assert out["format"] == "safetensors" and out["max_abs_diff"] == 0.0
    back = load_file(str(tmp_path / "net.safetensors"))
    assert set(back) == set(net.state_dict())
    assert torch.equal(back["bn.running_var"], net.bn.running_var) and int(back["bn.num_batches_tracked"]) == 3


def test_onnx_matches_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    net, x = trained_net(), torch.randn(4, 3, 10, 10)
    out = export_module(net, tmp_path / "net.onnx", example=x)
    assert out["format"] == "onnx" and out["max_abs_diff"] < 1e-5
    session = ort.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    other = torch.randn(7, 3, 10, 10)  # another batch size: the batch axis is dynamic
    got = session.run(["logits"], {"input": other.numpy()})[0]
    with torch.no_grad():
        assert abs(got - net(other).numpy()).max() < 1e-5


def test_export_refusals_are_one_line(tmp_path):
    with pytest.raises(UserError, match="should end in one of"):
        export_module(trained_net(), tmp_path / "net.pt", example=torch.zeros(1, 3, 10, 10))
    pytest.importorskip("onnxruntime")
    with pytest.raises(UserError, match="does not export to ONNX") as info:
        export_module(Untraceable().eval(), tmp_path / "bad.onnx", example=torch.zeros(2, 3, 10, 10))
    assert "\n" not in str(info.value) and not (tmp_path / "bad.onnx").exists()
