"""Structured-config schemas in Hydra's ConfigStore: the method (each family declares its own,
`Family.schemas`), model (models/config.py), dataset (data/config.py), coding (the codecs' families)
and scale (`Scale`, here) nodes. Each key and its default is stated once, in the schema or, for a
paper's value, in the option file that the schema types.

Two checks, both before any work: Hydra refuses a misspelt key or a wrong type while composing
(`config_error_line` turns its message into one line naming the valid keys), and `check_config`
builds the schemas from the composed config, whose `__post_init__` refuses a value out of range
(core/checks.py: one line with the valid range or choices)."""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError

from nncompress.core import checks
from nncompress.core.checks import ConfigError
from nncompress.data.config import SCHEMAS as DATA_SCHEMAS
from nncompress.methods.base import discover
from nncompress.models.config import MODEL_KEYS, ModelConfig
from nncompress.models.config import schemas as model_schemas

__all__ = ["MODEL_KEYS", "check_config", "config_error_line", "model_overrides", "register_schemas"]


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

    def __post_init__(self) -> None:
        if self.candidates_log2 is not None:
            checks.integer("scale.mrc.candidates_log2", self.candidates_log2, 1, 32)
        checks.integer("scale.mrc.finetune_steps", self.finetune_steps, 0)


@dataclass
class Scale:
    """The `scale:` node of conf/scale/*.yaml: its name (results.json, baseline dirs) and the coding
    settings a sweep over several methods sets once; a misspelt or mistyped key fails at start-up."""
    name: str = "paper"
    mrc: MrcScale = field(default_factory=MrcScale)


def _schemas() -> dict:
    out = {("scale", "scale_schema"): Scale, **model_schemas(), **DATA_SCHEMAS}
    for family in discover().values():
        out.update(family.schemas)
    return out


def register_schemas() -> None:
    if not OmegaConf.has_resolver("nnc.target_name"):
        OmegaConf.register_new_resolver("nnc.target_name", target_name)
    store = ConfigStore.instance()
    for (group, name), node in _schemas().items():
        store.store(group=group, name=name, node=node)


def check_config(cfg: DictConfig) -> None:
    """Every schema-typed node of `cfg` built as its dataclass, so that its `__post_init__` range
    checks run (a one-line ConfigError); a `_target_` model's own keys are checked as any model's.
    Interpolations resolve here, so a value taken from elsewhere is checked where it lands."""
    for key in ("scale", "dataset", "model", "method", "coding"):  # a value where it is set, before its readers
        node = cfg.get(key)
        if not isinstance(node, DictConfig):
            continue  # e.g. the Python API's dataset, a plain dict of the caller's datamodule
        kind = OmegaConf.get_type(node)
        try:
            built = OmegaConf.to_object(node) if dataclasses.is_dataclass(kind) else None
        except InterpolationKeyError as exc:  # e.g. method.schedule=foo: ${method.schedules.${method.schedule}...}
            raise ConfigError(_missing_key_line(cfg, str(exc))) from None
        if built is not None:
            continue
        if key == "model":  # a node composed without the schema (an old run's saved config)
            ModelConfig(**{k: OmegaConf.to_object(node[k]) if isinstance(node[k], DictConfig) else node[k]
                           for k in MODEL_KEYS if k in node and k != "_target_"})


def _missing_key_line(cfg: DictConfig, message: str) -> str:
    """'Interpolation key 'a.b.c' not found' as the first missing part and the keys beside it."""
    found = re.search(r"key '([^']+)'", message)
    if not found:
        return message.splitlines()[0]
    node, done = cfg, []
    for part in found.group(1).split("."):
        if not isinstance(node, DictConfig) or part not in node:
            where = ".".join(done) or "the config"
            keys = ", ".join(sorted(node.keys())) if isinstance(node, DictConfig) else ""
            return f"{where} has no '{part}'" + (f"; choose one of: {keys}" if keys else "")
        node, done = node._get_node(part), [*done, part]
    return message.splitlines()[0]


def _schema_classes() -> dict:
    """Every schema dataclass by name, nested ones included (the names Hydra's errors give)."""
    out, todo = {}, [OmegaConf.get_type(n) if isinstance(n, DictConfig) else n for n in _schemas().values()]
    while todo:
        kind = todo.pop()
        if dataclasses.is_dataclass(kind) and kind.__name__ not in out:
            out[kind.__name__] = kind
            for hint in typing.get_type_hints(kind).values():
                todo += [hint, *typing.get_args(hint)]
    return out


def config_error_line(exc: BaseException) -> str:
    """Hydra's composition error (and its OmegaConf cause) as one line: a key that no schema knows,
    from the command line or from an option or overlay file, with the node's valid keys; an unknown
    option with the group's options (less the schemas stored beside them)."""
    text = "\n".join(str(e) for e in (exc, exc.__cause__) if e is not None)
    where = re.search(r"^In '([^']+)'", text)
    unknown = re.search(r"Key '([^']+)' (?:is )?not in (?:'(\w+)'|struct)", text)
    full_key = re.search(r"full_key: (\S+)", text)
    options = re.search(r"(Could not \w+ '[^']+').*?Available options in '([^']+)':\n((?:\t.*\n?)+)", text, re.S)
    if unknown:
        key = full_key.group(1) if full_key else unknown.group(1)
        kind = _schema_classes().get(unknown.group(2) or "")
        if kind:
            line = f"{key}: no such key; valid keys: {', '.join(sorted(f.name for f in dataclasses.fields(kind)))}"
        else:  # a node no schema types (a method's `module:`, a sweeper's): the keys it holds
            held = _parent_keys(exc.__cause__)
            line = f"{key}: no such key" + (f"; the node holds: {', '.join(sorted(held))}" if held else "")
    elif options:
        names = [n for n in re.findall(r"^\t([\w.-]+)$", options.group(3), re.M) if not n.endswith("_schema")]
        line = f"{options.group(1)}; options in '{options.group(2)}': {', '.join(names)}"
    else:
        first = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "\t", "To append"))]
        line = "; ".join(dict.fromkeys(first[:3]))
    if where and where.group(1) != "config" and not line.startswith("In '"):  # config: the primary one
        line = f"{where.group(1)}: {line}"
    return line


def _parent_keys(cause) -> list:
    node = getattr(cause, "parent_node", None)
    return list(node.keys()) if isinstance(node, DictConfig) else []
