"""Structured-config schemas for the groups where a typo or a wrong type is expensive.

Registered in Hydra's ConfigStore and named in the group's defaults list, so a misspelt key or
`coding.finetune_steps=ten` fails at start-up with the valid fields, not an hour into coding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class MRCCodingSchema:
    """Keys of coding=mrc (and, for coding=auto, those of csr_huffman too)."""

    name: str = "mrc"
    bits_per_block: int = 20
    block_size: int = 30
    candidates_log2: Optional[int] = None
    chunk_log2: int = 16
    selection: str = "sample"
    finetune_steps: int = 100
    checkpoint_seconds: float = 30.0
    stop_after: Optional[int] = None
    progress: bool = True
    index_bits: Optional[int] = None
    vd_clusters: int = 64
    drop_rate: float = 0.95


def register() -> None:
    ConfigStore.instance().store(group="coding", name="mrc_schema", node=MRCCodingSchema)
