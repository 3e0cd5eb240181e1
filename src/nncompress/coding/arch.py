"""The architecture header of every compressed file: one `ArchSpec`, in each format's field order.

Every field is an unsigned LEB128 varint except the name (varint length, then ASCII):

    layout "hashing" (model.mrc, container kind 1):
        name | n_layers | n_layers x hashing factor of the layer's weight (1 = not hashed)
        | in_channels | num_classes | image_size | hash_seed
    layout "widths" (model.nnc, container kind 2):
        name | in_channels | num_classes | image_size | n_layers | n_layers x out-width
        (hidden widths after structured pruning; the last out-width is num_classes)

Reading checks each value against `models.spec.LIMITS` as it is read and validates the whole
spec (meta-device build and forward, `models.spec.MAX_PARAMS`) before any tensor is made.

Any other architecture (a `_target_` node: models.targets) is written the same way in every layout:

    name "@target" | varint length | that many bytes of JSON (sorted keys, at most MAX_MANIFEST):
        {"model": the _target_ node, "in_channels", "num_classes", "image_size", "hash_seed",
         "hashing": {layer: factor}, "widths": null, "tensors": [[state-dict key, dtype, shape], ...]}

`tensors` names every entry of the architecture's state dict; a reader builds the model only if
every target in the node is allow-listed (models.targets.ALLOWED), the caller trusts the file, or a
skeleton is given, and refuses a model whose state dict differs from the list in any key, dtype or
shape, before any payload is read.

Both orders predate this module and are kept byte for byte: files written before it decode, and
the same run writes the same bytes (tests/coding/test_golden_codecs.py pins the bytes of fixed
tensors in tests/expected/; tests/tasks/test_same_bytes.py runs the same command twice).
"""
from __future__ import annotations

import json

import torch

from nncompress.coding import varint
from nncompress.models import ARCHITECTURES
from nncompress.models.spec import TARGET, ArchSpec
from nncompress.models.targets import canonical, check_allowed

LAYOUTS = {
    "hashing": ("name", "per_layer", "in_channels", "num_classes", "image_size", "hash_seed"),
    "widths": ("name", "in_channels", "num_classes", "image_size", "per_layer"),
}
_SIZES = ("in_channels", "num_classes", "image_size", "hash_seed")
MAX_NAME = 64  # bytes of an architecture name
MAX_MANIFEST = 1 << 20  # bytes of a target manifest (ResNet-50's 320 state entries take ~25 KB)


def manifest(spec: ArchSpec) -> dict:
    """A target spec as the JSON object a file stores (module docstring)."""
    with torch.device("meta"):
        state = spec.build().state_dict()
    return {"model": spec.target, "in_channels": spec.in_channels, "num_classes": spec.num_classes,
            "image_size": spec.image_size, "hash_seed": spec.hash_seed, "hashing": dict(spec.hashing),
            "widths": None if spec.widths is None else list(spec.widths),
            "tensors": [[k, str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in state.items()]}


def _read_manifest(raw: bytes, pos: int):
    length, pos = varint.decode(raw, pos, limit=MAX_MANIFEST)
    if pos + length > len(raw):
        raise ValueError("model manifest truncated")
    try:
        node = json.loads(raw[pos : pos + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model manifest is not JSON: {exc}") from None
    pos += length
    keys = {"model", "in_channels", "num_classes", "image_size", "hash_seed", "hashing", "widths", "tensors"}
    if not isinstance(node, dict) or set(node) != keys:
        raise ValueError(f"model manifest must hold exactly the keys {sorted(keys)}")
    model, tensors, hashing = node["model"], node["tensors"], node["hashing"]
    if not isinstance(model, dict) or not isinstance(tensors, list) or not isinstance(hashing, dict):
        raise ValueError("model manifest: model, tensors or hashing of the wrong type")
    check_allowed(model)
    sizes = {k: node[k] for k in ("in_channels", "num_classes", "image_size", "hash_seed")}
    if not all(type(v) is int for v in sizes.values()) or not all(type(v) is int for v in hashing.values()):
        raise ValueError("model manifest: sizes and hashing factors must be integers")
    if node["widths"] is not None:
        raise ValueError("model manifest: a target model keeps its widths")
    spec = ArchSpec.of_target(model, hashing=hashing, **{k: sizes[k] for k in ("in_channels", "num_classes",
                                                                              "image_size")})
    spec.hash_seed = sizes["hash_seed"]
    net = spec.validate()
    state = net.state_dict()
    if len(tensors) != len(state):
        raise ValueError(f"the file lists {len(tensors)} tensors, the model has {len(state)}")
    for entry, (key, value) in zip(tensors, state.items()):
        want = [key, str(value.dtype).replace("torch.", ""), list(value.shape)]
        if entry != want:
            raise ValueError(f"the file's tensor {str(entry)[:120]} does not match the model's {want}")
    return spec, pos


def _per_layer(spec: ArchSpec, layout: str) -> list:
    layers = spec.layer_names
    if layout == "hashing":
        return [int(spec.hashing.get(layer, 1)) for layer in layers]
    if spec.widths is None:
        raise ValueError("layout 'widths' needs the spec's widths")
    return [*map(int, spec.widths), int(spec.num_classes)]


def write_arch(spec: ArchSpec, layout: str) -> bytes:
    if spec.target is not None:
        body = canonical(manifest(spec)).encode("utf-8")
        return varint.encode(len(TARGET)) + TARGET.encode("ascii") + varint.encode(len(body)) + body
    per_layer = _per_layer(spec, layout)
    out = bytearray()
    for field in LAYOUTS[layout]:
        if field == "name":
            out += varint.encode(len(spec.name)) + spec.name.encode("ascii")
        elif field == "per_layer":
            out += varint.encode(len(per_layer)) + b"".join(varint.encode(v) for v in per_layer)
        else:
            out += varint.encode(int(getattr(spec, field)))
    return bytes(out)


def read_arch(raw: bytes, pos: int, layout: str):
    """Returns (ArchSpec, next position); ValueError on an unknown architecture or a malformed header.

    Untrusted input: every field is bounded as it is read, and the spec is validated
    (`ArchSpec.validate`: limits, parameter budget, a meta-device build and forward pass) before
    a caller builds anything real.
    """
    values, per_layer, name = {}, [], ""
    for field in LAYOUTS[layout]:
        if field == "name":
            length, pos = varint.decode(raw, pos, limit=MAX_NAME)
            if pos + length > len(raw):
                raise ValueError("architecture name truncated")
            name = raw[pos : pos + length].decode("ascii", errors="replace")
            pos += length
            if name == TARGET:
                return _read_manifest(raw, pos)
            if name not in ARCHITECTURES:
                raise ValueError(f"unknown architecture '{name[:MAX_NAME]}' in file; known: {sorted(ARCHITECTURES)}")
        elif field == "per_layer":
            layers = ARCHITECTURES[name].layer_names
            count, pos = varint.decode(raw, pos, limit=len(layers))
            if count != len(layers):
                raise ValueError(f"file lists {count} layers, {name} has {len(layers)}")
            for _ in layers:
                v, pos = varint.decode(raw, pos)
                per_layer.append(v)
        else:
            values[field], pos = varint.decode(raw, pos)
    layers = ARCHITECTURES[name].layer_names
    if layout == "hashing":
        hashing = {layer: f for layer, f in zip(layers, per_layer) if f != 1}
        spec = ArchSpec(name, hashing, **{k: values[k] for k in _SIZES})
    else:
        if per_layer[-1] != values["num_classes"]:
            raise ValueError(f"last layer is {per_layer[-1]} wide but the file declares "
                             f"{values['num_classes']} classes")
        spec = ArchSpec(name, {}, values["in_channels"], values["num_classes"], values["image_size"],
                        widths=tuple(per_layer[:-1]))
    spec.validate()
    return spec, pos
