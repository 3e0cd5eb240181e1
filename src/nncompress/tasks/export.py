"""Export a decoded network to safetensors or ONNX, checked against the network itself.

    python run.py task=export file=outputs/.../model.nnc export_to=net.onnx

safetensors holds the state dict (every tensor by its key; the metadata names nncompress and
the tensor count); the check loads it into a copy of the network and compares outputs. ONNX
traces the network on an example batch (its logits only: a transformers model's output object
is unwrapped) and the check runs the file in onnxruntime. Either check failing beyond `atol`
is an error, and the file is removed.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from nncompress.core.errors import UserError
from nncompress.core.evaluation import logits_of
from nncompress.models.targets import first_line

FORMATS = {".safetensors": "safetensors", ".onnx": "onnx"}


class _Logits(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return logits_of(self.net(x))


def decoded_module(decoded) -> nn.Module:
    """A plain torch module from a codec's Decoded: the coded vector loaded into the architecture
    where the file holds one (MRC), else the network the codec rebuilt."""
    if decoded.weights is None:
        return decoded.network.eval()
    return decoded.network.materialise(decoded.weights.cpu()).eval()


def _example(net: nn.Module, example: Optional[torch.Tensor]) -> torch.Tensor:
    if example is not None:
        return example
    shape = getattr(net, "input_shape", None)
    if shape is None:
        raise UserError("export needs an example input batch (example=...) for this network")
    return torch.zeros(2, *shape)


def export_module(net: nn.Module, path: Path, example: Optional[torch.Tensor] = None, atol: float = 1e-4) -> dict:
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise UserError(f"export: {path.name} should end in one of {sorted(FORMATS)}")
    net = net.eval().cpu()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        diff = _safetensors(net, path, example)
    else:
        diff = _onnx(net, path, _example(net, example))
    if diff is not None and not diff <= atol:
        path.unlink(missing_ok=True)
        raise RuntimeError(f"the exported {fmt} network differs from the decoded one by {diff:.3g} (> {atol})")
    return {"path": str(path), "format": fmt, "max_abs_diff": diff}


def _safetensors(net: nn.Module, path: Path, example) -> Optional[float]:
    from safetensors.torch import load_file, save_file

    state = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt", "producer": "nncompress", "tensors": str(len(state))})
    back = load_file(str(path))
    if list(back) != list(state) and set(back) != set(state):
        raise RuntimeError("safetensors file lost tensors")
    exact = max((float((back[k].double() - state[k].double()).abs().max()) if state[k].numel() else 0.0)
                for k in state) if state else 0.0
    if example is None:
        return exact
    again = copy.deepcopy(net)
    again.load_state_dict(back)
    with torch.no_grad():
        return max(exact, float((logits_of(again(example)) - logits_of(net(example))).abs().max()))


def _onnx(net: nn.Module, path: Path, example: torch.Tensor) -> float:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("ONNX export is checked with onnxruntime: pip install -e '.[onnx]'") from None
    wrapped = _Logits(net).eval()
    with torch.no_grad():
        want = wrapped(example).numpy()
    try:
        torch.onnx.export(wrapped, (example,), str(path), input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    except Exception as exc:  # noqa: BLE001 - a model ONNX cannot express: one line, not a trace
        path.unlink(missing_ok=True)
        raise UserError(f"this model does not export to ONNX: {first_line(exc)[:200]}") from None
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(["logits"], {"input": example.numpy()})[0]
    except Exception as exc:  # noqa: BLE001 - e.g. a forward that left the graph (its input traced away)
        path.unlink(missing_ok=True)
        raise UserError(f"this model does not export to ONNX (the exported graph fails in onnxruntime: "
                        f"{first_line(exc)[:200]})") from None
    return float(abs(got - want).max())
