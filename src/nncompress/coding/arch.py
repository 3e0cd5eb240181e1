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

Both orders predate this module and are kept byte for byte: files written before it decode, and
the same run writes the same bytes (tests/expected/golden_files.json pins them).
"""
from __future__ import annotations

from nncompress.coding import varint
from nncompress.models import ARCHITECTURES
from nncompress.models.spec import ArchSpec

LAYOUTS = {
    "hashing": ("name", "per_layer", "in_channels", "num_classes", "image_size", "hash_seed"),
    "widths": ("name", "in_channels", "num_classes", "image_size", "per_layer"),
}
_SIZES = ("in_channels", "num_classes", "image_size", "hash_seed")
MAX_NAME = 64  # bytes of an architecture name


def _per_layer(spec: ArchSpec, layout: str) -> list:
    layers = spec.layer_names
    if layout == "hashing":
        return [int(spec.hashing.get(layer, 1)) for layer in layers]
    if spec.widths is None:
        raise ValueError("layout 'widths' needs the spec's widths")
    return [*map(int, spec.widths), int(spec.num_classes)]


def write_arch(spec: ArchSpec, layout: str) -> bytes:
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
