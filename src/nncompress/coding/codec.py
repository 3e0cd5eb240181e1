"""Codecs by name: a family's export -> container payload bytes, and a payload -> a network.

Each codec owns one container kind (`container.KINDS`) and the file name its runs write, and
implements

    encode(export, n_params) -> (payload bytes, accounting)   accounting: the results.json keys of
                                                              the format, the paper's ratio included
    decode(payload) -> Decoded                                 the network a decoder rebuilds

Codecs never see training; families never see bytes (`methods.base.Family.export` hands over an
object the codec knows, e.g. an `MRCPayload` or a `CompressedNet`).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from nncompress.coding.container import KINDS, ContainerError, read_container, write_container
from nncompress.core.evaluation import logits_of, weights_sha256


@dataclass
class Decoded:
    """A network rebuilt from a file: `network(x)`, or `network(x, weights)` for a coded vector."""

    network: nn.Module
    weights: Optional[torch.Tensor] = None
    spec: Optional[object] = None  # the models.spec.ArchSpec the file declared (input shape, classes)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.network(x) if self.weights is None else self.network(x, self.weights))

    def to(self, device) -> Decoded:
        self.network.to(device)
        if self.weights is not None:
            self.weights = self.weights.to(device)
        return self

    def flat_weights(self) -> torch.Tensor:
        """The decoded values: the coded vector, or every parameter in order."""
        if self.weights is not None:
            return self.weights
        return torch.cat([p.detach().flatten() for p in self.network.parameters()])

    @property
    def weights_sha256(self) -> str:
        return weights_sha256(self.flat_weights())

    @property
    def n_params(self) -> int:
        """Parameters of the rebuilt architecture (a pruned file rebuilds a narrower one)."""
        if hasattr(self.network, "n_params"):
            return int(self.network.n_params)
        return sum(p.numel() for p in self.network.parameters())


class Codec:
    name: str = ""      # the container kind's name
    filename: str = ""  # what a run writes, e.g. model.mrc

    def encode(self, export, n_params: int):  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, payload: bytes) -> Decoded:  # pragma: no cover - interface
        raise NotImplementedError


CODECS: dict = {}


def register(cls):
    """Class decorator: make a codec available by its container kind's name."""
    if cls.name not in KINDS:
        raise ValueError(f"codec '{cls.name}' has no container kind; add it to container.KINDS")
    CODECS[cls.name] = cls()
    return cls


def get_codec(name: str) -> Codec:
    if name not in CODECS:
        raise ValueError(f"unknown codec '{name}'; choose one of {sorted(CODECS)}")
    return CODECS[name]


def write_file(path, codec: Codec, export, n_params: int):
    """Encode and write atomically; returns (bytes on disk, the codec's accounting)."""
    payload, accounting = codec.encode(export, n_params)
    return write_container(path, codec.name, payload), accounting


def read_file(path) -> tuple:
    """(codec, Decoded) from a file; ContainerError (one line naming the file) for anything
    unreadable. Each codec validates its payload before allocating (its module docstring gives the
    rules); an error that gets past them is still reported as a malformed payload, never raised raw."""
    path = Path(path)
    kind, payload = read_container(path)
    try:
        return CODECS[kind], CODECS[kind].decode(payload)
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: whatever breaks, the user gets one line
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, (ValueError, UnicodeDecodeError, struct.error)):
            reason = f"{type(exc).__name__}: {reason}"
        raise ContainerError(f"{path} passed its checksum but its payload is malformed: {reason[:300]}") from None
