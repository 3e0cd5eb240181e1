"""Mutants of real compressed files, for the fuzzing suite (tests/coding/test_fuzz.py) and the fuzz
benchmark (tests/fuzz_bench.py).

The property every decoder must satisfy: for ANY file, `coding.codec.read_file(path)` either
returns a `Decoded` whose network runs a forward pass on a batch of the declared input shape, or
raises `ContainerError` whose message is one line naming the file. Anything else is a failure
(`check` says which).

Seeds (`seeds()`) are small real files of each container kind, written by the project's own
encoders. `parse` splits a seed's payload into its fields (varints, float32 runs, bytes, the
architecture name, bit-packed blobs) with their offsets, following the layouts in the docstrings
of coding/{container,arch,mrc,orc,pfr,expgolomb,csr_huffman,csr,huffman,codebook}.py, so a mutation can set
one field to a chosen value and re-encode it. `mutate` draws a mutant through a `Chooser`: a
seeded `random.Random` for the benchmark, Hypothesis' draws for the tests (which then shrinks
a failing mutant towards the first choices of every list below: small values, first fields).

Every mutant gives two files: the container with its CRC-32 recomputed (the payload reaches the
decoder) and with the seed's CRC kept (the container must refuse it, or the collision decodes).
"""
from __future__ import annotations

import math
import random
import re
import resource
import struct
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import List, Optional, Tuple

import torch

from nncompress.coding import huffman, varint
from nncompress.coding.codebook import CodebookNet
from nncompress.coding.codebook import encode as codebook_encode
from nncompress.coding.codec import read_file
from nncompress.coding.container import KINDS, MAGIC, VERSION, ContainerError
from nncompress.coding.csr_huffman import CompressedNet
from nncompress.coding.mrc import MRCPayload
from nncompress.coding.pfr import PFRPayload
from nncompress.models import ARCHITECTURES
from nncompress.models.spec import ArchSpec

KIND_OF_ID = {v: k for k, v in KINDS.items()}
_LAYOUT = {"mrc": "hashing", "orc": "hashing", "pfr": "hashing", "csr_huffman": "widths", "codebook": "hashing"}

# -- seeds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a payload: payload[start:end]. kind: varint | byte | f32 (a run of `count`
    float32) | ascii | blob. group: the field without its position ("csr.row_ptr"); mutations pick
    a group first, so a long run of row pointers does not crowd out the header."""

    name: str
    group: str
    kind: str
    start: int
    end: int
    value: object = None
    count: int = 1


@dataclass(frozen=True)
class Seed:
    name: str
    kind: str  # container kind
    payload: bytes
    fields: Tuple[Field, ...]

    @property
    def body(self) -> bytes:
        return MAGIC + bytes([VERSION, KINDS[self.kind]]) + self.payload

    @property
    def file(self) -> bytes:
        return self.body + struct.pack("<I", zlib.crc32(self.body))

    def groups(self) -> dict:
        out = {}
        for f in self.fields:
            out.setdefault(f.group, []).append(f)
        return out


def _mrc_seeds(kind: str = "mrc") -> list:
    """MRC files (ORC's have the same layout); `kind` "pfr": the same blocks with PFR's index code,
    indices spread over many code lengths (a log-uniform draw below 2^bits)."""
    g = torch.Generator().manual_seed(1)
    out = []
    for name, spec, block, bits in [
        ("lenet300_100", ArchSpec("lenet300_100", {"fc1": 16, "fc2": 16, "fc3": 2}, 1, 10, 8, 3), 128, 10),
        ("lenet5", ArchSpec("lenet5", {"conv2": 8, "fc1": 8}, 1, 10, 16, hash_seed=0), 256, 13),
    ]:
        from nncompress.models.coded import CodedNetwork

        net = CodedNetwork(spec)
        n_blocks = math.ceil(net.n_coded / block)
        rho = torch.rand(net.n_layers, generator=g) * 0.1 + 0.01
        indices = torch.randint(0, 1 << bits, (n_blocks,), generator=g).tolist()
        if kind == "pfr":
            indices = [k >> int(torch.randint(0, bits, (1,), generator=g)) for k in indices]
            payload = PFRPayload(spec, 7, block, bits, rho, indices).to_bytes()
        else:
            payload = MRCPayload(spec, 7, block, bits, rho, indices).to_bytes()
        out.append((f"{kind}/{name}", payload))
    return out


def _nnc_seeds() -> list:
    g = torch.Generator().manual_seed(2)
    out = []
    for name, spec, k, keep, index_bits in [
        ("nnc/lenet300_100", ArchSpec("lenet300_100", {}, 1, 10, 8, widths=(20, 12)), 6, 0.3, 3),
        ("nnc/lenet5", ArchSpec("lenet5", {}, 1, 10, 16, widths=(4, 6, 10)), 9, 0.6, 5),
    ]:
        template = spec.build()
        codebook = torch.cat([torch.zeros(1), torch.linspace(-0.2, 0.2, k - 1)])
        indices, biases = [], []
        for layer in template.layer_names:
            shape = template.get_parameter(f"{layer}.weight").shape
            idx = torch.randint(1, k, shape, generator=g) * (torch.rand(shape, generator=g) < keep)
            indices.append(idx.long())
            biases.append(torch.randn(shape[0], generator=g) * 0.1)
        payload, _ = CompressedNet(spec, codebook, indices, biases, index_bits).to_bytes()
        out.append((name, payload))
    return out


def _sparse(g, k: int, shape, keep: float) -> torch.Tensor:
    """Indices in 1..k-1 where kept (probability `keep`), else 0."""
    return torch.randint(1, k, shape, generator=g) * (torch.rand(shape, generator=g) < keep)


def _cbk_seeds(bn: bool) -> list:
    """Every tag but int: sparse (CSR) and dense (Huffman) indices, sparse raw (a large codebook:
    mask CSR + kept floats), raw (the biases). With `bn`, cifar_cnn: BatchNorm running statistics
    and an int counter per layer beside sparse convs."""
    g = torch.Generator().manual_seed(3)
    out = []
    torch.manual_seed(3)
    small = torch.cat([torch.zeros(1), torch.linspace(-0.1, 0.1, 3)])
    large = torch.cat([torch.zeros(1), torch.linspace(-0.1, 0.1, 5000)])
    spec = ArchSpec("mlp", {}, 1, 10, 4)
    codes = {
        "fc1.weight": (large, _sparse(g, 5001, (256, 16), 0.3)),
        "fc2.weight": (small, _sparse(g, 4, (256, 256), 0.03)),
        "fc3.weight": (small, torch.randint(0, 4, (10, 256), generator=g)),
    }
    out.append(("cbk/mlp", codebook_encode(CodebookNet.from_network(spec, spec.build(), codes))[0]))
    spec = ArchSpec("lenet5", {}, 1, 10, 16)
    codes = {
        "conv1.weight": (small, torch.randint(0, 4, (20, 1, 5, 5), generator=g)),
        "conv2.weight": (small, _sparse(g, 4, (50, 20, 5, 5), 0.05)),
        "fc1.weight": (large, _sparse(g, 5001, (500, 50), 0.02)),
        "fc2.weight": (small, _sparse(g, 4, (10, 500), 0.5)),
    }
    out.append(("cbk/lenet5", codebook_encode(CodebookNet.from_network(spec, spec.build(), codes))[0]))
    if bn:
        spec = ArchSpec("cifar_cnn", {}, 3, 10, 32)
        net = spec.build()
        codes = {}
        for name, p in net.named_parameters():
            if p.dim() > 1:
                keep = 0.002 if p.dim() == 4 else 0.5
                codes[name] = (small, _sparse(g, 4, p.shape, keep))
        state = CodebookNet.from_network(spec, net, codes)
        for name in state.state:
            if "running" in name:
                state.state[name] = torch.rand(state.state[name].shape, generator=g) + 0.5
            if "num_batches_tracked" in name:
                state.state[name] = torch.tensor(1234)
        out.append(("cbk/cifar_cnn", codebook_encode(state)[0]))
    return out


@cache
def seeds(kind: Optional[str] = None, bn: bool = False) -> Tuple[Seed, ...]:
    """The seed files (of one kind, or all); `bn` adds the BatchNorm codebook seed (cifar_cnn:
    9.3 M parameters, a decode takes a few hundred milliseconds)."""
    made = [("mrc", _mrc_seeds), ("csr_huffman", _nnc_seeds), ("codebook", lambda: _cbk_seeds(bn)),
            ("orc", lambda: _mrc_seeds("orc")), ("pfr", lambda: _mrc_seeds("pfr"))]
    out = []
    for k, make in made:
        if kind in (None, k):
            out += [Seed(name, k, payload, tuple(parse(k, payload))) for name, payload in make()]
    return tuple(out)


# -- structure-aware parser ----------------------------------------------------------------------


def _uvarint(raw: bytes, pos: int) -> tuple:
    value = shift = 0
    while True:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


class _Reader:
    def __init__(self, raw: bytes):
        self.raw, self.pos, self.fields = raw, 0, []

    def _add(self, name, group, kind, end, value=None, count=1):
        self.fields.append(Field(name, group, kind, self.pos, end, value, count))
        self.pos = end
        return value

    def varint(self, name, group=None):
        value, end = _uvarint(self.raw, self.pos)
        return self._add(name, group or name, "varint", end, value)

    def byte(self, name, group=None):
        return self._add(name, group or name, "byte", self.pos + 1, self.raw[self.pos])

    def f32(self, name, n, group=None):
        if n:
            self._add(name, group or name, "f32", self.pos + 4 * n, None, n)

    def blob(self, name, n, group=None):
        if n:
            self._add(name, group or name, "blob", self.pos + n, None, n)

    def ascii(self, name, n):
        return self._add(name, name, "ascii", self.pos + n, self.raw[self.pos : self.pos + n].decode("ascii"))


def _arch(r: _Reader, layout: str) -> ArchSpec:
    from nncompress.coding.arch import LAYOUTS

    values, per_layer, name = {}, [], ""
    for f in LAYOUTS[layout]:
        if f == "name":
            n = r.varint("arch.name_len")
            name = r.ascii("arch.name", n)
        elif f == "per_layer":
            count = r.varint("arch.n_layers")
            group = "arch.hashing" if layout == "hashing" else "arch.widths"
            per_layer = [r.varint(f"{group}[{i}]", group) for i in range(count)]
        else:
            values[f] = r.varint(f"arch.{f}")
    layers = ARCHITECTURES[name].layer_names
    if layout == "hashing":
        hashing = {layer: f for layer, f in zip(layers, per_layer) if f != 1}
        return ArchSpec(name, hashing, values["in_channels"], values["num_classes"], values["image_size"],
                        values["hash_seed"])
    return ArchSpec(name, {}, values["in_channels"], values["num_classes"], values["image_size"],
                    widths=tuple(per_layer[:-1]))


def _huffman(r: _Reader, prefix: str) -> list:
    start = r.pos
    n = r.varint(f"{prefix}huffman.n", "huffman.n")
    k = r.varint(f"{prefix}huffman.k", "huffman.k")
    for i in range(k):
        r.varint(f"{prefix}huffman.symbol[{i}]", "huffman.symbol")
        r.varint(f"{prefix}huffman.length[{i}]", "huffman.length")
    symbols, end = huffman.decode_from(r.raw, start)
    assert len(symbols) == n
    r.blob(f"{prefix}huffman.bits", end - r.pos, "huffman.bits")
    return symbols


def _csr(r: _Reader, prefix: str) -> list:
    rows = r.varint(f"{prefix}csr.rows", "csr.rows")
    r.varint(f"{prefix}csr.cols", "csr.cols")
    index_bits = r.byte(f"{prefix}csr.index_bits", "csr.index_bits")
    n = sum(r.varint(f"{prefix}csr.row_ptr[{i}]", "csr.row_ptr") for i in range(rows))
    r.blob(f"{prefix}csr.gaps", (index_bits * n + 7) // 8, "csr.gaps")
    return _huffman(r, f"{prefix}csr.")


def parse(kind: str, payload: bytes) -> list:
    """The fields of a well-formed payload of container kind `kind`, in order, covering all of it."""
    r = _Reader(payload)
    spec = _arch(r, _LAYOUT[kind])
    if kind in ("mrc", "orc", "pfr"):
        header = ("seed", "block_size", "bits_per_block") if kind != "pfr" else (
            "seed", "block_size", "candidates_log2", "order")
        for f in header:
            r.varint(f"{kind}.{f}")
        n = r.varint(f"{kind}.n_layers")
        r.f32(f"{kind}.rho", n)
        r.blob(f"{kind}.indices", len(payload) - r.pos)
    elif kind == "csr_huffman":
        r.byte("nnc.index_bits")
        k = r.varint("nnc.K")
        r.f32("nnc.codebook", k)
        for layer, width in zip(spec.layer_names, [*spec.widths, spec.num_classes]):
            r.f32(f"{layer}.bias", width, "nnc.bias")
            _csr(r, f"{layer}.")
    else:
        from nncompress.coding.codebook import DENSE, INT, RAW, SPARSE, SPARSE_RAW

        template = spec.build().state_dict()
        r.varint("cbk.n_entries")
        for name, like in template.items():
            tag = r.byte(f"{name}.tag", "cbk.tag")
            if tag == RAW:
                r.f32(f"{name}.raw", like.numel(), "cbk.raw")
            elif tag == INT:
                for i in range(like.numel()):
                    r.varint(f"{name}.int[{i}]", "cbk.int")
            elif tag in (DENSE, SPARSE):
                k = r.varint(f"{name}.K", "cbk.K")
                r.f32(f"{name}.codebook", k, "cbk.codebook")
                (_huffman if tag == DENSE else _csr)(r, f"{name}.")
            elif tag == SPARSE_RAW:
                mask = _csr(r, f"{name}.mask.")
                r.f32(f"{name}.values", sum(1 for v in mask if v), "cbk.values")
            else:
                raise ValueError(f"seed has tag {tag}")
    if r.pos != len(payload):
        raise ValueError(f"parsed {r.pos} of {len(payload)} bytes")
    return r.fields


# -- choosers ------------------------------------------------------------------------------------


class Chooser:
    """Where a mutation's choices come from; `integer(lo, hi)` is inclusive."""

    def integer(self, lo: int, hi: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def pick(self, seq):
        return seq[self.integer(0, len(seq) - 1)]

    def weighted(self, table):
        """table: [(weight, value)]; the first entries are the ones shrinking leads to."""
        total = sum(w for w, _ in table)
        x = self.integer(0, total - 1)
        for w, v in table:
            if x < w:
                return v
            x -= w
        raise AssertionError


class RandomChooser(Chooser):
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)


# -- mutations -----------------------------------------------------------------------------------

_BIG = [2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**70,
        2**100]
_FLOATS = [float("nan"), float("inf"), float("-inf"), -1.0, 0.0, -0.0, 1.0, 1e-45, 3.4028234663852886e38, 1e30,
           -1e30, 1e-30]
_BYTES = [0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 127, 128, 254, 255]
_NAMES = [*ARCHITECTURES, "", "LENET5", "lenet", "x" * 40, "\u00e9"]


def _new_int(c: Chooser, old: int) -> Tuple[int, str]:
    how = c.weighted([(4, "small"), (3, "near"), (3, "big"), (2, "pow2")])
    if how == "small":
        v = c.integer(0, 9)
    elif how == "near":
        v = c.pick([old - 1, old + 1, 2 * old, old // 2, old * old, old + 8, old + 1000, old * 1000])
    elif how == "big":
        v = c.pick(_BIG)
    else:
        v = (1 << c.integer(0, 72)) + c.integer(-1, 1)
    v = max(v, 0)
    return (v + 1 if v == old else v), how


def _blob_edit(c: Chooser, raw: bytes) -> Tuple[bytes, str]:
    n = len(raw)
    how = c.pick(["flip", "shrink", "grow", "zeros", "ones", "empty", "double", "random"])
    if how == "flip":
        b = bytearray(raw)
        for _ in range(c.integer(1, 4)):
            b[c.integer(0, n - 1)] ^= 1 << c.integer(0, 7)
        return bytes(b), "bit flips"
    if how == "shrink":
        k = c.pick([1, 2, 3, max(1, n // 2), n])
        return raw[: n - k], f"shrunk by {k} bytes"
    if how == "grow":
        k = c.pick([1, 2, 3, 8, n, 4096])
        fill = c.pick([b"\x00", b"\xff", b"\x80"])
        return raw + fill * k, f"grown by {k} x {fill.hex()}"
    if how == "zeros":
        return bytes(n), "all zero"
    if how == "ones":
        return b"\xff" * n, "all 0xff"
    if how == "empty":
        return b"", "emptied"
    if how == "double":
        return raw + raw, "doubled"
    return bytes(c.integer(0, 255) for _ in range(n)), "random bytes"


def _field_edit(c: Chooser, payload: bytes, f: Field) -> Tuple[int, int, bytes, str]:
    """(start, end, replacement, description) of one value mutation of field f."""
    raw = payload[f.start : f.end]
    if f.kind == "varint":
        how = c.weighted([(6, "value"), (2, "overlong"), (1, "huge"), (1, "unterminated")])
        if how == "value":
            v, _ = _new_int(c, f.value)
            return f.start, f.end, varint.encode(v), f"{f.name} = {v} (was {f.value})"
        if how == "overlong":
            extra = c.pick([1, 2, 3, 9, 20])
            b = bytearray(varint.encode(f.value))
            b[-1] |= 0x80
            b += b"\x80" * (extra - 1) + b"\x00"
            return f.start, f.end, bytes(b), f"{f.name} = {f.value} over-long (+{extra} bytes)"
        if how == "huge":
            n = c.pick([10, 20, 100, 1000])
            return f.start, f.end, b"\xff" * n + b"\x7f", f"{f.name} = 2**{7 * (n + 1)} - 1 ({n + 1}-byte varint)"
        return f.start, f.end, b"\x80" * c.pick([1, 8, 64]), f"{f.name} unterminated (0x80 ... to the next field)"
    if f.kind == "byte":
        how = c.weighted([(3, "table"), (1, "near"), (1, "any")])
        if how == "table":
            v = c.pick(_BYTES)
        else:
            v = (f.value + c.pick([-1, 1])) % 256 if how == "near" else c.integer(0, 255)
        return f.start, f.end, bytes([v]), f"{f.name} = {v} (was {f.value})"
    if f.kind == "f32":
        i = c.integer(0, f.count - 1)
        if c.integer(0, 3):
            v = c.pick(_FLOATS)
            new = struct.pack("<f", v)
        else:
            new = struct.pack("<I", c.integer(0, 2**32 - 1))
            v = struct.unpack("<f", new)[0]
        at = f.start + 4 * i
        return at, at + 4, new, f"{f.name}[{i}] = {v!r}"
    if f.kind == "ascii":  # the length varint before it keeps the old length ("name" op: both change)
        if c.integer(0, 3) == 0:
            return f.start, f.end, b"\xff" * len(raw), f"{f.name} = 0xff x {len(raw)}"
        name = c.pick(_NAMES)
        return f.start, f.end, name.encode("utf-8"), f"{f.name} = {name!r} (length field kept at {len(raw)})"
    new, what = _blob_edit(c, raw)
    return f.start, f.end, new, f"{f.name} ({f.count} bytes) {what}"


def _structural(c: Chooser, seed: Seed, payload: bytes) -> Tuple[int, int, bytes, str]:
    """(start, end, replacement, description) of one field mutation of the seed's payload."""
    groups = seed.groups()
    op = c.weighted([(12, "value"), (1, "delete"), (1, "duplicate"), (2, "truncate"), (1, "append"),
                     (1, "name")])
    if op == "name":  # an architecture name with a consistent length prefix
        f_len = next(f for f in seed.fields if f.group == "arch.name_len")
        f_name = next(f for f in seed.fields if f.group == "arch.name")
        name = c.pick(_NAMES).encode("utf-8")
        return f_len.start, f_name.end, varint.encode(len(name)) + name, f"arch.name = {name!r} (length fixed)"
    names = list(groups)
    f = c.pick(groups[c.pick(names)])
    if op == "value":
        return _field_edit(c, payload, f)
    if op == "delete":
        return f.start, f.end, b"", f"{f.name} deleted ({f.end - f.start} bytes)"
    if op == "duplicate":
        return f.start, f.end, payload[f.start : f.end] * 2, f"{f.name} duplicated"
    if op == "truncate":
        at = c.pick([f.start, f.end - 1, (f.start + f.end) // 2])
        return at, len(payload), b"", f"truncated at {at} (in/at {f.name})"
    k = c.pick([1, 4, 100])
    fill = bytes(c.integer(0, 255) for _ in range(min(k, 4))) * (k // min(k, 4))
    return len(payload), len(payload), fill, f"{len(fill)} trailing bytes {fill[:4].hex()}.."


def _generic(c: Chooser, data: bytes, seed: Optional[Seed] = None) -> list:
    """Edits (start, end, new bytes, description) of one byte-level mutation of `data`; positions are
    named by the seed's field when `data` is the seed's payload."""
    op = c.pick(["flip", "insert", "delete", "overwrite", "splice", "repeat"])
    n = len(data)
    at = {}
    if seed is not None and data == seed.payload:
        at = {i: f" (in {f.name})" for f in seed.fields for i in range(f.start, f.end)}
    if op == "flip":
        out = []
        for _ in range(c.integer(1, 8)):
            i, bit = c.integer(0, n - 1), c.integer(0, 7)
            out.append((i, i + 1, bytes([data[i] ^ (1 << bit)]), f"bit {bit} of byte {i}{at.get(i, '')} flipped"))
            data = data[:i] + out[-1][2] + data[i + 1 :]
        return out
    if op == "insert":
        i, ins = c.integer(0, n), bytes(c.pick(_BYTES) for _ in range(c.integer(1, 4)))
        return [(i, i, ins, f"inserted {ins.hex()} at {i}{at.get(i, '')}")]
    if op == "delete":
        i, k = c.integer(0, n - 1), c.integer(1, 16)
        return [(i, min(n, i + k), b"", f"deleted {len(data[i : i + k])} bytes at {i}{at.get(i, '')}")]
    if op == "overwrite":
        i, v = c.integer(0, n - 1), c.pick(_BYTES)
        return [(i, i + 1, bytes([v]), f"byte {i}{at.get(i, '')} = {v}")]
    if op == "splice":
        other = c.pick(seeds(bn=False))
        i, j = c.integer(0, n), c.integer(0, len(other.payload))
        return [(i, n, other.payload[j:], f"payload[:{i}] + {other.name} payload[{j}:]")]
    i, k, times = c.integer(0, n - 1), c.integer(1, 64), c.pick([2, 3, 50])
    return [(i, i, data[i : i + k] * (times - 1), f"bytes {i}:{i + k}{at.get(i, '')} repeated {times} times")]


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    new: bytes
    what: str

    def apply(self, payload: bytes) -> bytes:
        return payload[: self.start] + self.new + payload[self.end :]


@dataclass
class Mutant:
    """A seed's payload with `edits` applied in order, under container kind byte `kind_id`."""

    seed: Seed
    edits: List[Edit] = field(default_factory=list)
    kind_id: int = 0
    version: int = VERSION

    @property
    def payload(self) -> bytes:
        payload = self.seed.payload
        for e in self.edits:
            payload = e.apply(payload)
        return payload

    @property
    def body(self) -> bytes:
        return MAGIC + bytes([self.version, self.kind_id]) + self.payload

    def file(self, fix_crc: bool) -> bytes:
        """The container; its CRC-32 recomputed, or the seed's kept (`fix_crc` False)."""
        body = self.body
        return body + struct.pack("<I", zlib.crc32(body if fix_crc else self.seed.body))

    @property
    def recipe(self) -> list:
        out = [e.what for e in self.edits]
        if self.kind_id != KINDS[self.seed.kind]:
            out.append(f"container kind byte = {self.kind_id}")
        if self.version != VERSION:
            out.append(f"container version = {self.version}")
        return out

    def describe(self) -> str:
        return f"{self.seed.name}: " + ("; ".join(self.recipe) or "unchanged")

    def without(self, i: int) -> Mutant:
        return Mutant(self.seed, self.edits[:i] + self.edits[i + 1 :], self.kind_id, self.version)


def _reencode_mrc(c: Chooser, seed: Seed, extreme: bool) -> Edit:
    """A well-formed MRC file of extreme but legal settings, written by the encoder (every length
    consistent): many small blocks (block size down to 1, so one decoder step per coded variable),
    or a large image whose biggest weight is hashed down to one variable (a tiny file declaring a
    big network). `extreme` (the benchmark) adds the seed's network unhashed and images up to 330."""
    p = MRCPayload.from_bytes(seed.payload)
    spec, block, bits = p.spec, p.block_size, p.bits_per_block
    if c.integer(0, 1):
        block, bits = c.pick([32, 8, 4, 2, 1]), c.pick([8, 1, 2, 32])  # cheap first: what Hypothesis favours
        if extreme and c.integer(0, 1):
            spec = replace(spec, hashing={})
        what = f"re-encoded with {'no hashing, ' if not spec.hashing else ''}block size {block}, {bits} bits per block"
    else:
        size = c.pick([32, 64, 128, *([256, 330] if extreme else [])])
        with torch.device("meta"):
            net = replace(spec, image_size=size).build()
        numel = {layer: net.get_parameter(f"{layer}.weight").numel() for layer in net.layer_names}
        big = max(numel, key=numel.get)
        spec = replace(spec, image_size=size, hashing={**spec.hashing, big: numel[big]})
        what = f"re-encoded for {size} x {size} images, {big} ({numel[big]:,} weights) hashed to one variable"
    with torch.device("meta"):
        net = spec.build()
    n_coded = sum(math.ceil(q.numel() / (spec.hashing.get(name[: -len(".weight")], 1) if name.endswith(".weight")
                                         else 1)) for name, q in net.named_parameters())
    rng = random.Random(c.integer(0, 2**31))
    indices = [rng.getrandbits(bits) for _ in range(math.ceil(n_coded / block))]
    payload = MRCPayload(spec, p.seed, block, bits, p.rho, indices).to_bytes()
    return Edit(0, len(seed.payload), payload, f"{what} ({len(indices):,} blocks)")


def mutate(c: Chooser, seed: Seed, attempts: int = 4, extreme: bool = False) -> Mutant:
    """One mutant of `seed`: 1-3 field mutations (applied from the back, so every field's offset
    still holds), or 1-3 byte-level mutations, and now and then another container kind byte (the
    payload read by another codec) or version. A mutation that changed nothing is drawn again. One
    MRC mutant in 40 is a consistent re-encoding instead (`_reencode_mrc`; `extreme` for the
    benchmark's heavier settings)."""
    for _ in range(attempts):
        m = Mutant(seed, [], KINDS[seed.kind], VERSION)
        style = c.weighted([(32, "fields"), (8, "generic"), (1 if seed.kind in ("mrc", "orc") else 0, "reencode")])
        n_ops = c.weighted([(6, 1), (3, 2), (1, 3)])
        if style == "reencode":
            m.edits.append(_reencode_mrc(c, seed, extreme))
        elif style == "fields":
            edits = sorted((_structural(c, seed, seed.payload) for _ in range(n_ops)),
                           key=lambda e: (e[0], e[1]), reverse=True)
            limit = len(seed.payload) + 1
            for start, end, new, what in edits:
                if end > limit:  # overlaps the edit after it (or is the same field again)
                    continue
                m.edits.append(Edit(start, end, new, what))
                limit = start
        else:
            payload = seed.payload
            for _ in range(n_ops):
                for e in _generic(c, payload, seed):
                    m.edits.append(Edit(*e))
                    payload = m.edits[-1].apply(payload)
        if c.integer(0, 19) == 0:
            if c.integer(0, 3):
                m.kind_id = c.pick([*[k for k in KIND_OF_ID if k != m.kind_id], 0, max(KIND_OF_ID) + 1, 255])
            else:
                m.version = c.pick([0, 2, 255])
        if m.body != seed.body:
            break
    return m


# -- the property --------------------------------------------------------------------------------

MAX_INPUT_VALUES = 1 << 24  # per sample; no file this project writes declares more than 3 x 32 x 32


@dataclass
class Outcome:
    """What reading one file did. status: decoded | rejected | failure. A rejection whose
    ContainerError was raised while handling an exception other than ValueError / struct.error /
    UnicodeDecodeError / OSError (a catch-all around the decoder) keeps that exception's type in
    `wrapped`: the property holds, but the benchmark lists these apart, as errors the decoder's own
    checks did not anticipate. One exception: a wrapped allocation failure (MemoryError, the
    allocator's RuntimeError) is a failure, as the decoder tried to allocate past the address-space
    cap (`address_space_limit`), gigabytes beyond any legitimate file of the seeds."""

    status: str
    error: str = ""  # failures: the exception type (ContainerError(...) for a bad message; forward:... )
    message: str = ""  # the exception's message (or ContainerError's), up to 300 characters
    seconds: float = 0.0
    traceback: str = ""
    wrapped: str = ""  # rejections: the exception type a catch-all turned into the ContainerError

    @property
    def ok(self) -> bool:
        return self.status != "failure"

    @property
    def message_class(self) -> str:
        """The message with numbers, quoted parts and paths blanked: groups failures by cause."""
        msg = "".join(ch if ch.isprintable() else " " for ch in self.message)
        msg = re.sub(r"(?<![A-Za-z])'[^']*'|\"[^\"]*\"", "<q>", msg)  # not the ' of can't
        msg = re.sub(r"(?<![A-Za-z])'[^']*$", "<q>", msg)  # left open by a quoted part holding a quote
        msg = re.sub(r"/\S+", "PATH", msg)
        msg = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", msg)
        head = self.error if self.status == "failure" else f"ContainerError(catch-all around {self.wrapped})"
        return f"{head}: {msg[:90]}"

    @property
    def key(self) -> Optional[str]:
        """The class that `minimise` keeps: failures and catch-all rejections; None otherwise."""
        return self.message_class if self.status == "failure" or self.wrapped else None


_ANTICIPATED = (ValueError, UnicodeDecodeError, struct.error, OSError)


def _allocation_failure(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "alloc" in str(exc))


def _declared(data: bytes) -> Optional[ArchSpec]:
    from nncompress.coding.arch import read_arch

    kind = KIND_OF_ID.get(data[5]) if len(data) > 5 else None
    if kind is None:
        return None
    return read_arch(data[6:-4], 0, _LAYOUT[kind])[0]


def check(path: Path, data: bytes, forward: bool = True) -> Outcome:
    """Write `data` to `path`, read it back through `read_file` and classify what happened."""
    import traceback

    path.write_bytes(data)
    t0 = time.perf_counter()
    try:
        _, decoded = read_file(path)
    except ContainerError as exc:
        msg = str(exc)
        seconds = time.perf_counter() - t0
        if "\n" in msg:
            return Outcome("failure", "ContainerError(multi-line message)", msg[:300], seconds)
        if str(path) not in msg:
            return Outcome("failure", "ContainerError(message without the path)", msg[:300], seconds)
        inner = exc.__cause__ or exc.__context__
        if inner is not None and _allocation_failure(inner):
            return Outcome("failure", f"ContainerError(around an allocation failure, {type(inner).__name__})",
                           msg[:300], seconds)
        wrapped = type(inner).__name__ if inner is not None and not isinstance(inner, _ANTICIPATED) else ""
        return Outcome("rejected", "", msg[:300], seconds, wrapped=wrapped)
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        return Outcome("failure", type(exc).__name__, str(exc)[:300], time.perf_counter() - t0,
                       traceback.format_exc(limit=-6))
    seconds = time.perf_counter() - t0
    if not forward:
        return Outcome("decoded", "", "", seconds)
    try:
        spec = _declared(data)
        shape = (spec.in_channels, spec.image_size, spec.image_size)
        if math.prod(shape) > MAX_INPUT_VALUES:
            return Outcome("failure", "forward:declared input too large",
                           f"decoded a network for inputs of {shape}", seconds)
        with torch.no_grad():
            y = decoded(torch.randn(2, *shape))
        if tuple(y.shape) != (2, spec.num_classes):
            return Outcome("failure", "forward:wrong output shape",
                           f"output {tuple(y.shape)} for {spec.num_classes} classes", seconds)
    except Exception as exc:  # noqa: BLE001
        return Outcome("failure", f"forward:{type(exc).__name__}", str(exc)[:300], seconds,
                       traceback.format_exc(limit=-6))
    return Outcome("decoded", "", "", seconds)


# -- resource guards -----------------------------------------------------------------------------


def _status_kib(key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


@contextmanager
def address_space_limit(extra_bytes: int):
    """Cap this process's address space at its current size + `extra_bytes` (RLIMIT_AS), so that a
    mutant asking for terabytes fails with a MemoryError / RuntimeError instead of the machine
    killing the process. Restored on exit. A no-op where /proc is missing."""
    size = _status_kib("VmSize") * 1024
    if not size:
        yield
        return
    old = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra_bytes
    if old[1] != resource.RLIM_INFINITY:
        cap = min(cap, old[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)


class PeakRSS:
    """Peak resident memory growth of this process over a `with` block: resets the kernel's
    high-water mark (/proc/self/clear_refs) before, reads VmHWM after. Falls back to growth of
    ru_maxrss (which only sees new peaks) where clear_refs cannot be written."""

    def __enter__(self):
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.reset = True
        except OSError:
            self.reset = False
        self.base = _status_kib("VmRSS") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc):
        peak = _status_kib("VmHWM") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.growth_bytes = max(0, peak - self.base) * 1024
        return False


def reproduce(kind_id: int, payload: bytes, version: int = VERSION) -> bytes:
    """The file of a saved reproducer: the container (CRC-32 recomputed) around `payload`."""
    body = MAGIC + bytes([version, kind_id]) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def minimise(path: Path, m: Mutant, fix_crc: bool, target: str, check_fn=None) -> Tuple[bytes, Mutant]:
    """A smaller file failing the same way (`Outcome.key` == target): edits dropped one by
    one while the failure stays, then (CRC recomputed) the shortest payload prefix that keeps it.
    Returns (file bytes, the mutant with its remaining edits)."""
    check_fn = check_fn or check

    def same(data):
        return check_fn(path, data).key == target

    changed = True
    while changed and len(m.edits) > 1:
        changed = False
        for i in range(len(m.edits)):
            cand = m.without(i)
            if cand.body != cand.seed.body and same(cand.file(fix_crc)):
                m, changed = cand, True
                break
    data = m.file(fix_crc)
    if fix_crc:
        payload = m.payload
        cuts = sorted({len(payload) * k // 64 for k in range(1, 64)} | {f.end for f in m.seed.fields[:64]})
        for cut in cuts:
            if cut < len(payload):
                cand = reproduce(m.kind_id, payload[:cut], m.version)
                if same(cand):
                    return cand, m
    return data, m
