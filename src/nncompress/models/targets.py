"""Any architecture by `_target_`: a torchvision, timm or transformers model, or a user's class.

A target spec is a JSON-able node: `{"_target_": "torchvision.models.resnet18", "num_classes": 10}`;
nested nodes with their own `_target_` are built first (a transformers model takes its config
object: `{"_target_": "transformers.ViTForImageClassification", "config": {"_target_":
"transformers.ViTConfig", ...}}`). A node may also carry `_args_` (a list of positional arguments).

Building runs code named by the node, so a node read from a file is built only when every target
in it is on `ALLOWED` (the libraries whose constructors only allocate tensors) or the caller trusts
it (`trusted()`): a crafted file gets a one-line refusal, never an import. A node the user wrote
(the command line, a recipe, the Python API) is theirs to run.

Compressible layers are found by module type (`WEIGHT_LAYERS`, in `named_modules` order), and a
model's output is reduced to its logits (`logits_of`: transformers return an output object).
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import importlib
import json
import socket
from typing import Any, Optional

from torch import nn

from nncompress.core.evaluation import logits_of  # noqa: F401 - part of this module's interface

# Module prefixes whose callables may be built from a file without the user's say-so.
ALLOWED = ("nncompress.models.", "torchvision.models.", "timm.", "transformers.")
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
MAX_NODE_BYTES = 1 << 16  # a target node read from a file, as JSON
MAX_DEPTH = 8

_TRUST = contextvars.ContextVar("nncompress_trust_targets", default=False)
_SKELETON = contextvars.ContextVar("nncompress_skeleton", default=None)


class TargetError(ValueError):
    """A target that cannot or may not be built; the message is one line."""


@contextlib.contextmanager
def trusted(yes: bool = True):
    """Within this block, targets read from files are built even when not on ALLOWED."""
    token = _TRUST.set(bool(yes))
    try:
        yield
    finally:
        _TRUST.reset(token)


def is_trusted() -> bool:
    return _TRUST.get() or _SKELETON.get() is not None


@contextlib.contextmanager
def skeleton(module: nn.Module):
    """Within this block, every target spec builds a copy of `module` instead of calling its
    target: the Python API's own model, and a decoder given the skeleton (no import at all)."""
    token = _SKELETON.set(module)
    try:
        yield
    finally:
        _SKELETON.reset(token)


def current_skeleton():
    return _SKELETON.get()


def target_of(module: nn.Module) -> dict:
    """The node naming a module's class: what a file records of a model given as an object (a
    decoder then needs the skeleton, or a class that builds with no arguments)."""
    cls = type(module)
    return {"_target_": f"{cls.__module__}.{cls.__qualname__}"}


def targets_in(node: Any, depth: int = 0) -> list:
    """Every `_target_` string in a node, outermost first."""
    if depth > MAX_DEPTH:
        raise TargetError(f"target node nested deeper than {MAX_DEPTH}")
    out = []
    if isinstance(node, dict):
        if "_target_" in node:
            out.append(node["_target_"])
        for key, value in node.items():
            if key != "_target_":
                out += targets_in(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            out += targets_in(value, depth + 1)
    return out


def check_allowed(node: Any) -> None:
    """TargetError unless every target of a file-read node is on ALLOWED (or trusted()), and it asks
    for no weights from elsewhere (a file holds its own)."""
    if is_trusted():
        return
    asked = wants_weights(node)
    if asked:
        raise TargetError(f"the file's model asks for weights from elsewhere ({str(asked)[:80]}); refused")
    for target in targets_in(node):
        if not isinstance(target, str) or not target.startswith(ALLOWED):
            shown = str(target)[:80]
            raise TargetError(f"the file names the model '{shown}', which is not on the allow-list "
                              f"({', '.join(p.rstrip('.') for p in ALLOWED)}); pass the model (skeleton) "
                              f"yourself, or trust the file (decode(..., trust=True), task=decode trust=true)")


def _resolve(path: str):
    """The callable at a dotted path: the longest importable module prefix, then attributes (a
    class method such as `module.Class.from_config` works too)."""
    if not isinstance(path, str) or "." not in path or any(c.isspace() for c in path):
        raise TargetError(f"'{str(path)[:80]}' is not a dotted name such as torchvision.models.resnet18")
    names = path.split(".")
    for cut in range(len(names) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(names[:cut]))
        except ImportError:
            continue
        try:
            for name in names[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            break
        if callable(obj):
            return obj
        break
    raise TargetError(f"cannot import '{path[:80]}'")


def build_node(node: Any, depth: int = 0):
    """Build a node: dicts with `_target_` are called with their other keys (built first)."""
    if depth > MAX_DEPTH:
        raise TargetError(f"target node nested deeper than {MAX_DEPTH}")
    if isinstance(node, list):
        return [build_node(v, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    built = {k: build_node(v, depth + 1) for k, v in node.items() if k not in ("_target_", "_args_")}
    if "_target_" not in node:
        return built
    fn = _resolve(node["_target_"])
    args = [build_node(v, depth + 1) for v in node.get("_args_", [])]
    try:
        return fn(*args, **built)
    except TypeError as exc:
        raise TargetError(f"{node['_target_']}: {first_line(exc)}") from None


# Arguments that make a library fetch weights (or run code) from elsewhere; a node read from a file
# may not hold them, and a user's node that does is checked for a network first.
WEIGHT_KEYS = ("pretrained", "weights", "checkpoint_path", "pretrained_model_name_or_path", "trust_remote_code",
               "pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")
WEIGHT_HOSTS = (("download.pytorch.org", 443), ("huggingface.co", 443))


def wants_weights(node: Any, depth: int = 0) -> Optional[str]:
    """`key=value` of the first argument asking for pretrained weights, or None."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, dict):
        for key, value in node.items():
            if key in WEIGHT_KEYS and value not in (None, False, "", "none", "None"):
                return f"{key}={value}"
            found = wants_weights(value, depth + 1)
            if found:
                return found
        target = str(node.get("_target_", ""))
        if "pretrained" in target.rsplit(".", 1)[-1] or target.endswith(".load"):
            return target
    elif isinstance(node, list):
        for value in node:
            found = wants_weights(value, depth + 1)
            if found:
                return found
    return None


def _online(timeout: float = 2.0) -> bool:
    for host in WEIGHT_HOSTS:
        try:
            socket.create_connection(host, timeout=timeout).close()
            return True
        except OSError:
            continue
    return False


def build_model(node: dict) -> nn.Module:
    skel = _SKELETON.get()
    if skel is not None:
        return copy.deepcopy(skel)
    asked = wants_weights(node)
    if asked and not _online():  # libraries retry downloads for a minute; say it at once
        raise TargetError(f"{node.get('_target_')}: {asked} asks for pretrained weights, and no weights can be "
                          f"downloaded here (no network); use random initialisation, or load your weights into "
                          f"the model and pass it to nncompress.compress")
    net = build_node(node)
    if not isinstance(net, nn.Module):
        raise TargetError(f"{node.get('_target_')} built a {type(net).__name__}, not a torch.nn.Module")
    return net


def canonical(node: Any) -> str:
    """The node as compact JSON with sorted keys: what a file stores."""
    try:
        return json.dumps(node, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TargetError(f"the model's arguments are not plain JSON values: {first_line(exc)}") from None


def parse(text: str) -> dict:
    node = json.loads(text)
    if not isinstance(node, dict) or not isinstance(node.get("_target_"), str):
        raise TargetError("model node has no _target_")
    return node


def weight_layers(net: nn.Module) -> tuple:
    """Names of the compressible layers (WEIGHT_LAYERS, exact types or subclasses), in module order;
    a hand-written architecture's own `layer_names` where it has them."""
    names = getattr(net, "layer_names", None)
    if names is not None:
        return tuple(names)
    return tuple(name for name, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS) and name)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
