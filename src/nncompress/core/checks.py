"""Range checks of the config schemas, one style for all of them.

Each schema (a dataclass in Hydra's ConfigStore: the method, model, data set, coding and scale
nodes) calls these from its `__post_init__`; `tasks.config.check_config` builds the schemas from
the composed config at start-up (`OmegaConf.to_object`), so a value out of range fails before any
work, as one line that names the key, the valid range or choices and the value given. Hydra itself
refuses a misspelt key or a wrong type while composing (the nodes are typed by the schemas).
"""
from __future__ import annotations

import math
import numbers

from nncompress.core.errors import UserError


class ConfigError(UserError):
    """A config value out of its range (run.py prints it as one line)."""


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _span(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"{'<' if high_open else '<='} {high}" if high is not None else "finite"


def number(key: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False) -> None:
    """A finite number within [low, high] (an end is open with low_open / high_open; None: no bound)."""
    if not _is_real(value) or (low is not None and (value <= low if low_open else value < low)) or (
            high is not None and (value >= high if high_open else value > high)):
        raise ConfigError(f"{key} must be a number {_span(low, high, low_open, high_open)}, got {value!r}")


def positive(key: str, value) -> None:
    number(key, value, 0, low_open=True)


def probability(key: str, value) -> None:
    number(key, value, 0, 1)


def integer(key: str, value, low=None, high=None) -> None:
    """An integer within [low, high] (None: no bound)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (
            low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{key} must be an integer {_span(low, high, False, False)}, got {value!r}")


def integers(key: str, values, low=None) -> None:
    """A list of integers, each >= low, in increasing order (milestones)."""
    for v in values:
        integer(key, v, low)
    if list(values) != sorted(values):
        raise ConfigError(f"{key} must be in increasing order, got {list(values)}")


def choice(key: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: unknown value {value!r}; choose one of {list(choices)}")
