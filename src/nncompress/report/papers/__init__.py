"""Each paper's tables and figures, registered by name: one module per paper key (mkl, ibc, …).

A report applies to a sweep when one of its methods has a row there; `write(df, out_dir)` returns
the paths it wrote (it may return none, e.g. a figure whose runs lack the artifacts it draws).
A new paper is a new module here that calls `register`; nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, NamedTuple


class Report(NamedTuple):
    paper: str
    methods: tuple | Callable  # or a function returning them (the frontier: every registered family's)
    write: Callable

    def method_names(self) -> tuple:
        return tuple(self.methods()) if callable(self.methods) else self.methods


REPORTS: dict = {}


def register(name: str, paper: str, methods):
    """Decorator: `write(df, out_dir) -> [paths]` becomes report `name` of `paper`."""
    def wrap(write):
        REPORTS[name] = Report(paper, methods if callable(methods) else tuple(methods), write)
        return write
    return wrap


def discover() -> dict:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return REPORTS


def applicable(df) -> list:
    """Names of the registered reports whose methods appear in df."""
    present = set(df["method"].dropna()) if "method" in df else set()
    return [name for name, r in discover().items() if present & set(r.method_names())]
