"""task=decode: rebuild a network from its compressed file alone and evaluate it."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from nncompress.coding.container import ContainerError, read_container
from nncompress.errors import UserError
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
    if kind != "mrc":
        raise ContainerError(f"{path} holds a '{kind}' payload; this version decodes 'mrc'")
    try:
        payload = MRCPayload.from_bytes(raw)
        network, weights = decode_weights(payload)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ContainerError(f"{path} passed its checksum but its payload is malformed: {exc}") from None
    dm = build_datamodule(cfg)
    err = test_error(network.to(dm.device), weights.to(dm.device), dm.test_dataloader())
    record = {"task": "decode", "file": str(path.resolve()), "test_error": err,
              "weights_sha256": weights_sha256(weights), "n_params": network.n_params,
              "n_coded_params": network.n_coded, "compressed_bytes": path.stat().st_size,
              "dataset": cfg.dataset.name}
    write_results(run_dir, record, name="decode.json")
    print(f"decoded {path}: test error {err:.2f} % on {cfg.dataset.name}; weights sha256 {record['weights_sha256'][:16]}…")
    return record
