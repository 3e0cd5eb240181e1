"""Structured-config schemas in Hydra's ConfigStore, for the groups where a typo or a wrong type is
expensive: each family declares its own (`Family.schemas`), so a misspelt key or
`coding.finetune_steps=ten` fails at start-up with the valid fields, not an hour into coding."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from nncompress.methods.base import discover

# Keys of conf/model/*.yaml that are ours; with a `_target_` model every other key is its argument.
MODEL_KEYS = ("_target_", "name", "arch", "hashing", "hash_seed", "csr_index_bits", "train")


def target_name(target: str, model_name=None) -> str:
    """A `_target_` model's run name: timm's model_name where given, else the callable's name."""
    return str(model_name) if model_name else str(target).rsplit(".", 1)[-1]


def model_overrides(args: list) -> list:
    """Command-line overrides for a `_target_` model: `model._target_=X` selects conf/model/target
    (unless a model= is given), and `model.KEY=V` for a KEY that is not ours becomes `++model.KEY=V`
    (an argument of the model, which Hydra's strict config would otherwise refuse; a named
    architecture refuses it at start-up, tasks.builders.build_spec)."""
    given = [a for a in args if a.lstrip("+").startswith("model._target_=")]
    out = [] if not given or any(a.startswith("model=") for a in args) else ["model=target"]
    for a in args:
        if a.startswith("model.") and "=" in a and a[len("model."):].split("=")[0].split(".")[0] not in MODEL_KEYS:
            a = "++" + a
        out.append(a)
    return out


@dataclass
class MrcScale:
    """What a scale sets for MIRACLE's coders (read by conf/coding/{mrc,pfr,orc}.yaml)."""
    candidates_log2: Optional[int] = None   # None: 2^bits_per_block candidates, the full search
    finetune_steps: int = 100               # training steps between coded blocks


@dataclass
class Scale:
    """The `scale:` node of conf/scale/*.yaml: its name (results.json, baseline dirs) and the coding
    settings a sweep over several methods sets once; a misspelt or mistyped key fails at start-up."""
    name: str = "paper"
    mrc: MrcScale = field(default_factory=MrcScale)


def register_schemas() -> None:
    if not OmegaConf.has_resolver("nnc.target_name"):
        OmegaConf.register_new_resolver("nnc.target_name", target_name)
    store = ConfigStore.instance()
    store.store(group="scale", name="scale_schema", node=Scale)
    for family in discover().values():
        for (group, name), node in family.schemas.items():
            store.store(group=group, name=name, node=node)
