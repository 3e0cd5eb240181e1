"""Structured-config schemas in Hydra's ConfigStore, for the groups where a typo or a wrong type is
expensive: each family declares its own (`Family.schemas`), so a misspelt key or
`coding.finetune_steps=ten` fails at start-up with the valid fields, not an hour into coding."""
from __future__ import annotations

from hydra.core.config_store import ConfigStore

from nncompress.methods.base import discover


def register_schemas() -> None:
    store = ConfigStore.instance()
    for family in discover().values():
        for (group, name), node in family.schemas.items():
            store.store(group=group, name=name, node=node)
