"""How a family's runs appear on the frontier (report/papers/frontier.py), as plain data.

A family lists one `FrontierRows` per kind of row its methods make (`Family.frontier`); the report
reads a finished job's results.json row and composed config through them and knows no family:

    which rows    the first FrontierRows whose `method` is the row's and whose `when` all hold
    legend        `label`, drawn with `marker` and `colour`
    setting       `setting` with each {name} filled by its `Knob`: the results.json key where the
                  row has it, else the job's config path (numbers rendered by the report: 2⁻¹¹, %g)
    size          dense: no file, 32 bits per weight; else the file's bytes
    paper ratio   the first finite of the `paper_ratio` keys (1 for dense methods)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Knob:
    name: str                 # its {name} in a setting template, or what `when` tests
    key: str | None = None    # results.json key
    path: str | None = None   # the job's config path (.hydra/config.yaml), when results.json lacks it


@dataclass(frozen=True)
class FrontierRows:
    method: str               # results.json "method" (the method config's name)
    label: str                # the legend's and the table's name
    marker: str = "x"         # matplotlib marker
    colour: str | None = None
    setting: str = ""         # the operating point, e.g. "block {block}, {bits} bits"
    knobs: tuple = ()         # a Knob per {name} in `setting`
    when: tuple = ()          # (Knob, value) pairs that must all hold, e.g. rd's operation=quantize
    dense: bool = False       # writes no file: float32, 4 bytes per parameter
    paper_ratio: tuple = ("ratio_paper",)  # results keys of the paper's own accounting, first finite one
