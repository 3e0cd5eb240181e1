"""`hydra/sweeper=points`: a sweep over named operating points instead of a cross product.

Methods have different knobs (MIRACLE a block size, VD a KL weight, rd a keep-rate and an
estimator), so the grid of one knob per key that the basic sweeper builds is the wrong shape for a
sweep over methods. A recipe lists its operating points by name, each a list of ordinary overrides:

    defaults:
      - override /hydra/sweeper: points
    point: null                      # every job records the name of its point here
    hydra:
      sweeper:
        params: {dataset: mnist, seed: 0}                   # crossed with every point, as usual
        points:
          meankl_b20: [method=meankl, model=lenet5_hashed, block=20]
          vd_tau1:    [method=vd, method.module.tau1=1.0]

Jobs = (the cross product of `params` and the command line) x points. A point's overrides come
after the grid's and replace a grid override of the same key (the point is the more specific:
`model=lenet5_hashed` for MIRACLE's hashed LeNet-5 in a LeNet-5 sweep). Every job also gets
`++point=<name>` (its overrides.yaml, so `nncompress.report` keys jobs by point and finds the
ones that never ran). `hydra.sweeper.only` (a list, e.g. interpolated from the scale) and, before
it, `point=a,b` on the command line run only those points; an unknown name is an error that
lists the recipe's points.
"""
# No `from __future__ import annotations`: Hydra's plugin scan executes this module before it is in
# sys.modules, and a dataclass with string annotations then fails to build (every run would fail).
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

KEY = "point"


@dataclass
class PointsSweeperConf:
    _target_: str = "hydra_plugins.nncompress_points.points_sweeper.PointsSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None
    points: Dict[str, List[str]] = field(default_factory=dict)
    # Run only these points; null: all. Any, not Optional[List[str]]: a recipe may interpolate it from
    # keys that only the composed config has (the scale's subset), which a typed merge would resolve early.
    only: Any = None


ConfigStore.instance().store(group="hydra/sweeper", name="points", node=PointsSweeperConf, provider="nncompress")


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def merge(base: List[str], point: List[str]) -> List[str]:
    """base's overrides, then point's; a point override replaces base's override of the same key."""
    own = {_key(o) for o in point}
    return [o for o in base if _key(o) not in own] + list(point)


def expand(base_jobs: List[List[str]], points: Dict[str, List[str]], chosen: Optional[List[str]] = None) -> list:
    """Every base job crossed with every chosen point: [overrides..., ++point=name] per job."""
    names = list(points) if chosen is None else list(chosen)
    unknown = [n for n in names if n not in points]
    if unknown:
        raise HydraException(f"{KEY}: unknown operating point(s) {unknown}; the recipe's points: {list(points)}")
    if not names:
        raise HydraException("hydra.sweeper.points is empty: a points sweep needs at least one operating point")
    return [[*merge(job, points[n]), f"++{KEY}={n}"] for job in base_jobs for n in names]


class PointsSweeper(BasicSweeper):
    """BasicSweeper whose jobs are its grid crossed with named operating points."""

    def __init__(self, max_batch_size: Optional[int], params: Optional[Dict[str, str]] = None,
                 points: Optional[Dict[str, List[str]]] = None, only: Optional[List[str]] = None) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.points = {str(name): [str(o) for o in (ovr or [])] for name, ovr in (points or {}).items()}
        self.only = None if only is None else [str(n) for n in only]

    def split_arguments(self, overrides: List[Override], max_batch_size: Optional[int]) -> List[List[List[str]]]:
        chosen, rest = self.only, []
        for o in overrides:
            if o.get_key_element().lstrip("+") == KEY:  # point=a,b: only these points
                chosen = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
            else:
                rest.append(o)
        jobs = expand(BasicSweeper.split_arguments(rest, None)[0], self.points, chosen)
        return list(self.split_overrides_to_chunks(jobs, max_batch_size))
