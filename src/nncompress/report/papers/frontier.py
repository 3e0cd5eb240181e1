"""The frontier (issue 13): every family on one model and data set, from a points sweep
(`experiments/frontier_*`, hydra/sweeper=points; each job's operating point in the `point` column).

One figure per data set and architecture: bits per weight by the bytes of each file (log axis)
against test error (log axis), one marker per method, the Pareto front (the points no other point
beats on both) drawn as a staircase through them; the same as a table (md + tex) with the method,
its setting, the file's bytes, bits per weight, the ratio by file, the ratio by the paper's own
accounting and the error. Seeds of one point are averaged (error: mean ± s.e.).

Which rows a method makes, their labels, markers, settings and the paper's accounting are its
family's (`Family.frontier`, methods/frontier_rows.py): this module reads them and knows no family.

Bits per weight = 8 · bytes of the file / n_params, n_params the uncompressed network's parameters
(MIRACLE's hashed LeNet-5 counts its 431,080 too, like the others). A method without a file (L2,
the baseline) is dense float32: 32 bits per weight, 4 · n_params bytes, shown in parentheses. The
paper's accounting is each family's `ratio_paper` (MIRACLE: block indices only; VD / SWS: Deep
Compression's counted bits; rd: 1 / kept fraction or section 5.3's r), PWFN's entropy ratio
(`ratio_entropy`, paper 002 reports entropy bits), 1 for the dense methods.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from nncompress.methods.base import discover
from nncompress.report.common import problems, save_figure, tex_cell
from nncompress.report.papers import register

DATA_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
               "synthetic": "synthetic"}
ARCH_LABELS = {"lenet5": "LeNet-5", "lenet300_100": "LeNet-300-100", "mlp": "MLP 784-256-256-10",
               "cifar_cnn": "CIFAR CNN", "resnet18": "ResNet-18"}
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
COLUMNS = ("method", "setting", "bytes", "bits / weight", "ratio (file)", "ratio (paper acct.)", "error %", "front")


def row_kinds() -> list:
    """Every registered family's FrontierRows, in registry order (families register on import)."""
    return [kind for family in discover().values() for kind in family.frontier]


def methods() -> tuple:
    """The methods with rows on the frontier."""
    return tuple(dict.fromkeys(kind.method for kind in row_kinds()))


def styles() -> dict:
    """label -> (marker, colour)."""
    return {kind.label: (kind.marker, kind.colour) for kind in row_kinds()}


def pareto_front(x, y) -> np.ndarray:
    """Mask of the points no other point beats: none has x' <= x and y' <= y with one of them
    strictly smaller (both minimised). Equal points are all on the front; NaN points never are."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    on = ok.copy()
    for i in np.flatnonzero(ok):
        beaten = ok & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        on[i] = not beaten.any()
    return on


def _num(row, key):
    v = row.get(key) if hasattr(row, "get") else None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def _config(run_dir):
    """The job's composed config (.hydra/config.yaml), or None."""
    if run_dir is None or (isinstance(run_dir, float) and math.isnan(run_dir)):
        return None
    path = Path(run_dir) / ".hydra" / "config.yaml"
    return OmegaConf.load(path) if path.exists() else None


def _select(cfg, key):
    if cfg is None:
        return None
    try:
        return OmegaConf.select(cfg, key, default=None)
    except Exception:  # an interpolation the saved file cannot resolve (hydra:…)
        return None


def _read(row, cfg, knob):
    """A knob's value: the results.json row's where it has one, else the job's config's."""
    if knob.key is not None:
        v = row.get(knob.key) if hasattr(row, "get") else None
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return v
    return _select(cfg, knob.path) if knob.path else None


def _text(v) -> str:
    """A knob's value in a setting: numbers by `_g`, anything else as written."""
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return _g(v)
    return "?" if v is None else str(v)


def kind_of(row, cfg=None):
    """The FrontierRows a job's row belongs to (its method, every `when` holding), or None."""
    for kind in row_kinds():
        if kind.method == row.get("method") and all(_read(row, cfg, k) == v for k, v in kind.when):
            return kind
    return None


def _g(v) -> str:
    """A knob's value: 2⁻ᵏ for powers of two below 1 (2⁻¹¹), else %g."""
    if v is None:
        return "?"
    v = float(v)
    if 0 < v < 1 and float(np.log2(v)).is_integer():
        return "2" + str(int(np.log2(v))).translate(SUPERSCRIPT)
    return f"{v:g}"


def label(row, cfg=None) -> str:
    """The method as the figure's legend names it (its family's label for the row's kind)."""
    kind = kind_of(row, cfg)
    return kind.label if kind is not None else str(row.get("method"))


def setting(row, cfg=None) -> str:
    """The operating point in the family's own knobs, from results.json, else the job's config."""
    kind = kind_of(row, cfg)
    if kind is None or not kind.setting:
        return str(row.get("point"))
    return kind.setting.format(**{k.name: _text(_read(row, cfg, k)) for k in kind.knobs})


def _paper_ratio(row, kind) -> float:
    """The first finite of the family's accounting keys (NaN if none)."""
    for key in kind.paper_ratio:
        v = _num(row, key)
        if np.isfinite(v):
            return v
    return math.nan


def points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, arch, point) of the finished jobs: label, setting, bytes, bits per
    weight, both ratios, error (mean and s.e. over seeds, n) and whether it is on the front of its
    (dataset, arch)."""
    if "point" not in df:
        return pd.DataFrame()
    ok = df[(df["status"] == "ok") & df["point"].notna() & df["method"].isin(methods())]
    rows = []
    for _, r in ok.iterrows():
        cfg = _config(r.get("run_dir"))
        kind = kind_of(r, cfg)
        n = _num(r, "n_params")
        dense = kind.dense or not np.isfinite(_num(r, "compressed_bytes"))
        nbytes = 4 * n if dense else _num(r, "compressed_bytes")
        paper = 1.0 if dense else _paper_ratio(r, kind)
        ratio_file = 1.0 if dense else _num(r, "ratio_file")
        arch = r.get("arch") if pd.notna(r.get("arch")) else r.get("model")
        rows.append({"dataset": r.get("dataset"), "arch": arch, "point": r["point"], "method": r["method"],
                     "label": kind.label, "setting": setting(r, cfg), "dense": dense,
                     "bytes": nbytes, "bpw": 8 * nbytes / n if n else math.nan, "ratio_file": ratio_file,
                     "ratio_paper": paper, "error": _num(r, "test_error")})
    if not rows:
        return pd.DataFrame()
    jobs = pd.DataFrame(rows)
    keys = ["dataset", "arch", "point"]
    first = jobs.groupby(keys, sort=False)[["method", "label", "setting", "dense"]].first()
    nums = jobs.groupby(keys, sort=False)[["bytes", "bpw", "ratio_file", "ratio_paper", "error"]].mean()
    err = jobs.groupby(keys, sort=False)["error"]
    out = first.join(nums).assign(error_se=err.std(ddof=1) / np.sqrt(err.count()), n=err.count()).reset_index()
    out["front"] = False
    for _, g in out.groupby(["dataset", "arch"], sort=False):
        out.loc[g.index, "front"] = pareto_front(g["bpw"], g["error"])
    return out.sort_values(["dataset", "arch", "bpw"], kind="stable").reset_index(drop=True)


def _ratio(v) -> str:
    return "—" if not np.isfinite(v) else f"{v:,.1f}×" if v < 100 else f"{v:,.0f}×"


def _cells(p) -> list:
    nbytes = f"{p['bytes']:,.0f}"
    err = f"{p['error']:.2f}" + (f" ± {p['error_se']:.2f}" if p["n"] > 1 else "")
    return [p["label"], p["setting"], f"({nbytes})" if p["dense"] else nbytes, f"{p['bpw']:.3g}",
            _ratio(p["ratio_file"]), _ratio(p["ratio_paper"]), err, "✓" if p["front"] else ""]


def title(dataset, arch) -> str:
    return f"{ARCH_LABELS.get(arch, arch)} on {DATA_LABELS.get(dataset, dataset)}"


def _tex_powers(text: str) -> str:
    """2⁻¹¹ -> $2^{-11}$."""
    plain = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    return re.sub("2([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: f"$2^{{{m.group(1).translate(plain)}}}$", text)


def table(pts: pd.DataFrame, df: pd.DataFrame | None = None) -> tuple:
    """Markdown and LaTeX tables of one (dataset, arch) group of `points`, by bits per weight."""
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    tex = [r"\begin{tabular}{llrrrrrc}", r"\toprule",
           r"Method & Setting & Bytes & Bits/weight & Ratio (file) & Ratio (paper) & Error \% & Front \\",
           r"\midrule"]
    for _, p in pts.iterrows():
        cells = _cells(p)
        md.append("| " + " | ".join(cells) + " |")
        tex.append(" & ".join(tex_cell(c).replace("✓", r"$\checkmark$").replace("τ₁", r"$\tau_1$")
                              .replace("τ₂", r"$\tau_2$").replace("α", r"$\alpha$")
                              for c in map(_tex_powers, cells)) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}"]
    if df is not None:
        issues = problems(df, methods())
        if issues:
            md += ["", "Failed or missing jobs:", *[f"- {line}" for line in issues]]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"


def figure(pts: pd.DataFrame, out_stem, heading: str) -> list:
    """Bits per weight (log) against test error (log), one marker per method, the Pareto front."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    style = styles()
    for lab, g in pts.groupby("label", sort=False):
        marker, colour = style.get(lab, ("x", None))
        ax.scatter(g["bpw"], g["error"], marker=marker, color=colour, s=55, label=lab, zorder=3,
                   edgecolors="none" if marker not in ("X", "P") else None)
    front = pts[pts["front"]].sort_values("bpw")
    if len(front):
        x, y = front["bpw"].to_numpy(), front["error"].to_numpy()
        # the staircase of the attainable region: right from each front point, then down to the next
        xs = np.append(x, max(x[-1], pts["bpw"].max()) * 1.3)  # on to the right of every point
        ys = np.append(y, y[-1])
        ax.step(xs, ys, where="post", color="k", lw=1.0, ls="--", label="Pareto front", zorder=2)
        for _, p in front.iterrows():
            ax.annotate(p["setting"], (p["bpw"], p["error"]), textcoords="offset points", xytext=(4, 4),
                        fontsize=6, color="0.25")
    ax.set(xscale="log", yscale="log", xlabel="bits per weight (8 · file bytes / parameters, log)",
           ylabel="test error % (log)", title=heading)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(fig, out_stem)


def _stem(dataset, arch) -> str:
    return f"frontier_{dataset}_{arch}"


@register("frontier", "frontier", methods)
def write_frontier(df, out: Path):
    """One figure and one table per (dataset, arch) of a points sweep; nothing for other sweeps."""
    pts = points(df)
    written = []
    if pts.empty:
        return written
    for (dataset, arch), g in pts.groupby(["dataset", "arch"], sort=False):
        stem = _stem(dataset, arch)
        md, tex = table(g, df)
        heading = f"The frontier: {title(dataset, arch)}"
        print(f"{heading}\n\n{md}")
        (out / f"{stem}.md").write_text(f"{heading}\n\n{md}")
        (out / f"{stem}.tex").write_text(tex)
        written += [out / f"{stem}.md", out / f"{stem}.tex", *figure(g, out / stem, heading)]
    return written
