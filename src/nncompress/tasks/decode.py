"""task=decode: rebuild a network from its compressed file alone and evaluate it."""
from __future__ import annotations

import logging
import struct
from pathlib import Path

import torch

from omegaconf import DictConfig

from nncompress.coding.container import ContainerError, read_container
from nncompress.errors import UserError
from nncompress.coding.deep_compression import CompressedNet
from nncompress.coding.mrc import MRCPayload, decode_weights, weights_sha256
from nncompress.methods.base import test_error
from nncompress.tasks.builders import build_datamodule
from nncompress.tasks.results import write_results

log = logging.getLogger(__name__)


def decode(cfg: DictConfig, run_dir: Path) -> dict:
    if not cfg.get("file"):
        raise UserError("task=decode needs file=PATH to a compressed model (e.g. outputs/.../model.mrc)")
    path = Path(cfg.file).expanduser()
    kind, raw = read_container(path)
    try:
        if kind == "mrc":
            network, weights = decode_weights(MRCPayload.from_bytes(raw))
            n_params, digest = network.n_params, weights_sha256(weights)
        else:
            network, weights = CompressedNet.from_bytes(raw).build(), None
            n_params = sum(p.numel() for p in network.parameters())
            digest = weights_sha256(torch.cat([p.detach().flatten() for p in network.parameters()]))
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise ContainerError(f"{path} passed its checksum but its payload is malformed: {exc}") from None
    dm = build_datamodule(cfg)
    network.to(dm.device)
    err = test_error(network, None if weights is None else weights.to(dm.device), dm.test_dataloader())
    record = {"task": "decode", "kind": kind, "file": str(path.resolve()), "test_error": err,
              "weights_sha256": digest, "n_params_decoded": n_params,
              "compressed_bytes": path.stat().st_size, "dataset": cfg.dataset.name}
    write_results(run_dir, record, name="decode.json")
    print(f"decoded {path}: test error {err:.2f} % on {cfg.dataset.name}; weights sha256 {record['weights_sha256'][:16]}…")
    return record
