"""Paper 003 (rate-distortion objectives for pruning and quantisation): Figures 2-12 from the
`experiments/rd_*` sweeps, each as a figure (PNG + PDF) and a table of its points (md + tex), with
the paper's qualitative claim beside what our points say. The paper prints no numbers.

Jobs carry the figure they belong to (`method.figure` -> results.json `figure`); untagged rd jobs
are drawn as `rd_curves`. Curves: test accuracy and cross-entropy (and top-5 for CIFAR-100)
against the compression ratio r of the paper's accounting (log axis; pruning: 1 / kept fraction,
quantisation: section 5.3's r), one line per estimator, one column per data set / model, the
uncompressed baseline dotted. Figure 11 / 12: against T / μ, one line per keep-rate. Figure 6:
the water-filling R(D) and the Monte Carlo check of Theorem 3's compressor (theory.json).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from nncompress.report.common import problems, save_figure, tex_cell
from nncompress.report.papers import register

METHODS = ("rd",)
LABELS = {"baseline": "Baseline", "fisher": "Proposed (fisher)", "gradient": "Gradient", "hessian": "Hessian",
          "grad_hessian": "Gradient+Hessian"}
ORDER = tuple(LABELS)
DATA_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
               "synthetic": "synthetic"}
METRIC_LABELS = {"test_accuracy": "test accuracy (%)", "test_top5_accuracy": "top-5 accuracy (%)",
                 "test_ce": "test cross-entropy"}
# figure -> (kind, operation, title, the paper's claim)
UNSUP = "the proposed objective gives lower test cross-entropy than the baseline at every compression ratio, " \
        "and higher test accuracy in most (section 6.1)"
SUP = "gradient and Hessian objectives both beat the baseline (gradient slightly ahead of Hessian at some " \
      "points); gradient+Hessian gives the best overall performance (section 6.2)"
C100_UNSUP = "as on MNIST and CIFAR-10, the proposed objective gives better accuracy and smaller loss than " \
             "the baseline (appendix C)"
C100_SUP = "the gradient objective gives better accuracy and smaller loss than the baseline (appendix C; the " \
           "Hessian is left out as too slow)"
FIGURES = {
    "figure2": ("curve", "Unsupervised pruning (Figure 2)", UNSUP),
    "figure3": ("curve", "Unsupervised quantisation (Figure 3)", UNSUP),
    "figure4": ("curve", "Supervised pruning (Figure 4)", SUP),
    "figure5": ("curve", "Supervised quantisation (Figure 5)", SUP),
    "figure7": ("curve", "CIFAR-100 unsupervised pruning (Figure 7)", C100_UNSUP),
    "figure8": ("curve", "CIFAR-100 unsupervised quantisation (Figure 8)", C100_UNSUP),
    "figure9": ("curve", "CIFAR-100 supervised pruning (Figure 9)", C100_SUP),
    "figure10": ("curve", "CIFAR-100 supervised quantisation (Figure 10)", C100_SUP),
    "figure11": ("sweep", "Temperature T, supervised pruning (Figure 11)",
                 "as T increases from 1, performance first improves, then worsens (appendix C.3.1)"),
    "figure12": ("sweep", "Hessian regulariser mu, supervised pruning (Figure 12)",
                 "as mu increases from 0, performance first improves, then worsens (appendix C.3.2)"),
    "figure6": ("theory", "Weighted water-filling (Figure 6)",
                "R(D) has three segments, with kinks where the third and then the second coordinate is full: "
                "(3, log2 6) and (9, log2 1.5); Theorem 3's compressor achieves it"),
    "rd_curves": ("curve", "Rate-distortion objectives", ""),
}
SWEEP_AXIS = {"figure11": ("temperature", "temperature T", False), "figure12": ("mu", "μ (log)", True)}


def _ok(df: pd.DataFrame, figure: str) -> pd.DataFrame:
    ok = df[(df["status"] == "ok") & (df["method"].isin(METHODS))].copy()
    tags = ok["figure"] if "figure" in ok else pd.Series(None, index=ok.index, dtype=object)
    if figure == "rd_curves":
        return ok[tags.isna() & ok.get("operation", pd.Series(None, index=ok.index)).isin(["prune", "quantize"])]
    return ok[tags == figure]


def _panels(ok: pd.DataFrame) -> list:
    """(dataset, model) pairs, MNIST-like first."""
    keys = sorted({(d, m) for d, m in zip(ok["dataset"], ok["model"])},
                  key=lambda k: (list(DATA_LABELS).index(k[0]) if k[0] in DATA_LABELS else 99, k))
    return keys


def _metrics(ok: pd.DataFrame, figure: str) -> list:
    top5 = figure in ("figure7", "figure8", "figure9", "figure10") and "test_top5_accuracy" in ok
    return ["test_accuracy", *(["test_top5_accuracy"] if top5 else []), "test_ce"]


def _grid_key(rows: pd.DataFrame) -> str:
    return "keep" if (rows["operation"] == "prune").all() else "bits"


def _points(rows: pd.DataFrame, metrics: list) -> pd.DataFrame:
    """Mean over seeds per (estimator, grid value): ratio_paper and the metrics."""
    key = _grid_key(rows)
    cols = ["ratio_paper", *metrics]
    out = rows.groupby(["importance", key])[cols].mean().reset_index()
    return out.sort_values(["importance", key])


def _estimators(points: pd.DataFrame) -> list:
    present = set(points["importance"])
    return [e for e in ORDER if e in present] + sorted(present - set(ORDER))


def _compare(points: pd.DataFrame, key: str, est: str, ref: str = "baseline") -> str:
    """'CE lower at a/n, accuracy higher at b/n' of est against ref, paired by grid value."""
    a = points[points["importance"] == est].set_index(key)
    b = points[points["importance"] == ref].set_index(key)
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return ""
    ce = int((a.loc[common, "test_ce"] < b.loc[common, "test_ce"]).sum())
    acc = int((a.loc[common, "test_accuracy"] > b.loc[common, "test_accuracy"]).sum())
    return (f"{LABELS.get(est, est)} vs {LABELS.get(ref, ref)}: cross-entropy lower at {ce}/{len(common)} "
            f"{key} values, accuracy higher at {acc}/{len(common)}")


def _best_overall(points: pd.DataFrame, key: str) -> str:
    """The estimator with the best mean rank (accuracy and cross-entropy, over the grid)."""
    ests = _estimators(points)
    if len(ests) < 2:
        return ""
    ranks = {e: [] for e in ests}
    for _, g in points.groupby(key):
        if len(g) < len(ests):
            continue
        for col, asc in (("test_accuracy", False), ("test_ce", True)):
            r = g.set_index("importance")[col].rank(ascending=asc)
            for e in ests:
                ranks[e].append(float(r[e]))
    means = {e: float(np.mean(v)) for e, v in ranks.items() if v}
    if not means:
        return ""
    text = ", ".join(f"{LABELS.get(e, e)} {m:.2f}" for e, m in sorted(means.items(), key=lambda kv: kv[1]))
    return f"mean rank over the grid (accuracy and cross-entropy, 1 = best): {text}"


def _claims(ok: pd.DataFrame, figure: str) -> list:
    """What our points say, one line per panel (paired comparisons against the baseline)."""
    lines = []
    for d, m in _panels(ok):
        rows = ok[(ok["dataset"] == d) & (ok["model"] == m)]
        key = _grid_key(rows)
        points = _points(rows, ["test_accuracy", "test_ce"])
        parts = [_compare(points, key, e) for e in _estimators(points) if e != "baseline"]
        parts.append(_best_overall(points, key))
        parts = [p for p in parts if p]
        if parts:
            lines.append(f"- {DATA_LABELS.get(d, d)} {m}: " + "; ".join(parts) + ".")
    return lines


def _fmt(v, digits=2) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _curve_table(ok: pd.DataFrame, figure: str) -> tuple:
    kind, title, claim = FIGURES[figure]
    metrics = _metrics(ok, figure)
    md, tex = [f"## {title}", ""], []
    for d, m in _panels(ok):
        rows = ok[(ok["dataset"] == d) & (ok["model"] == m)]
        key = _grid_key(rows)
        points = _points(rows, metrics)
        ests = _estimators(points)
        base = rows[["test_accuracy_uncompressed", "test_ce_uncompressed"]].mean()
        md += [f"### {DATA_LABELS.get(d, d)}, {m} (uncompressed: {_fmt(base['test_accuracy_uncompressed'])} %, "
               f"CE {_fmt(base['test_ce_uncompressed'], 4)})", ""]
        short = {"test_accuracy": "acc %", "test_top5_accuracy": "top-5 %", "test_ce": "CE"}
        head = [key] + [f"{LABELS.get(e, e)} {c}" for e in ests for c in ("r", *[short[x] for x in metrics])]
        md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        tex += [rf"% {DATA_LABELS.get(d, d)}, {m}", r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
                " & ".join(tex_cell(h) for h in head) + r" \\", r"\midrule"]
        for value in sorted(set(points[key])):
            cells = [f"{value:g}"]
            for e in ests:
                p = points[(points["importance"] == e) & (points[key] == value)]
                if p.empty:
                    cells += ["—"] * (1 + len(metrics))
                    continue
                p = p.iloc[0]
                cells += [_fmt(p["ratio_paper"], 1)] + [_fmt(p[x], 4 if x == "test_ce" else 2) for x in metrics]
            md.append("| " + " | ".join(cells) + " |")
            tex.append(" & ".join(tex_cell(c) for c in cells) + r" \\")
        md.append("")
        tex += [r"\bottomrule", r"\end{tabular}", ""]
    md += ["r: compression ratio, the paper's accounting (pruning: 1 / kept fraction; quantisation: section 5.3's "
           "r with b = 32); CE: test cross-entropy (nats); means over seeds.", ""]
    if claim:
        md += [f"**Paper:** {claim}.", "", "**Ours:**", *_claims(ok, figure), ""]
    return md, tex


def _curve_figure(ok: pd.DataFrame, figure: str, out_stem: Path) -> list:
    kind, title, _ = FIGURES[figure]
    metrics = _metrics(ok, figure)
    panels = _panels(ok)
    fig, axes = plt.subplots(len(metrics), len(panels), figsize=(4.6 * len(panels), 3.2 * len(metrics)),
                             squeeze=False)
    colours = dict(zip(ORDER, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for j, (d, m) in enumerate(panels):
        rows = ok[(ok["dataset"] == d) & (ok["model"] == m)]
        points = _points(rows, metrics)
        for i, metric in enumerate(metrics):
            ax = axes[i][j]
            for e in _estimators(points):
                p = points[points["importance"] == e].sort_values("ratio_paper")
                ax.plot(p["ratio_paper"], p[metric], marker="o", ms=3, color=colours.get(e), label=LABELS.get(e, e),
                        ls="--" if e == "grad_hessian" else "-")  # dashed: it may lie on the gradient line
            unc = f"{metric}_uncompressed"
            if unc in rows and rows[unc].notna().any():
                ax.axhline(rows[unc].mean(), color="grey", ls=":", lw=1, label="uncompressed")
            ax.set_xscale("log")
            if metric == "test_ce":  # from near the baseline's to chance level: a log axis shows both
                ax.set_yscale("log")
                ax.set_xlabel("compression ratio r (paper accounting, log)")
            _plain_ticks(ax)
            ax.set_ylabel(METRIC_LABELS[metric])
            ax.grid(alpha=0.3, which="both")
            if i == 0:
                ax.set_title(f"{DATA_LABELS.get(d, d)} ({m})")
        axes[0][j].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def _tick_label(v: float, _pos=None) -> str:
    """Plain numbers (0.06, 2, 20) at mantissas 1, 2, 3 and 5 of a log axis; other ticks unlabelled."""
    if v <= 0:
        return ""
    mantissa = v / 10 ** math.floor(math.log10(v) + 1e-9)
    return f"{v:g}" if any(abs(mantissa - m) < 1e-6 for m in (1, 2, 3, 5)) else ""


def _plain_ticks(ax) -> None:
    """Log axes labelled 0.06, 2, 20 rather than 6×10⁻², 2×10⁰, 2×10¹."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_major_formatter(FuncFormatter(_tick_label))
            axis.set_minor_formatter(FuncFormatter(_tick_label))


def _sweep(ok: pd.DataFrame, figure: str, out: Path) -> list:
    kind, title, claim = FIGURES[figure]
    col, label, log_x = SWEEP_AXIS[figure]
    ok = ok.copy()
    ok[col] = pd.to_numeric(ok.get(col, pd.Series(0.0, index=ok.index)), errors="coerce").fillna(0.0)
    points = ok.groupby(["dataset", "model", "keep", col])[["test_accuracy", "test_ce"]].mean().reset_index()
    panels = _panels(ok)
    fig, axes = plt.subplots(1, 2 * len(panels), figsize=(9 * len(panels), 3.4), squeeze=False)
    md, tex = [f"## {title}", ""], []
    ours = []
    for j, (d, m) in enumerate(panels):
        pts = points[(points["dataset"] == d) & (points["model"] == m)]
        keeps = sorted(set(pts["keep"]))
        xs = sorted(set(pts[col]))
        for i, metric in enumerate(("test_accuracy", "test_ce")):
            ax = axes[0][2 * j + i]
            for n, keep in enumerate(keeps):
                p = pts[pts["keep"] == keep].sort_values(col)
                colour = f"C{n}"
                line = p[p[col] > 0] if log_x else p
                ax.plot(line[col], line[metric], marker="o", ms=3, color=colour, label=f"keep {keep:g}")
                zero = p[p[col] == 0]
                if log_x and not zero.empty:  # μ = 0 cannot sit on a log axis: a dashed level
                    ax.axhline(zero[metric].iloc[0], color=colour, ls="--", lw=0.8)
            if log_x and (pts[col] > 0).any():  # a sweep of μ = 0 alone has nothing to put on a log axis
                ax.set_xscale("log")
            ax.set(xlabel=label, ylabel=METRIC_LABELS[metric], title=f"{DATA_LABELS.get(d, d)} ({m})")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        head = [col] + [f"keep {k:g} {c}" for k in keeps for c in ("acc %", "CE")]
        md += [f"### {DATA_LABELS.get(d, d)}, {m}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        tex += [r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
                " & ".join(tex_cell(h) for h in head) + r" \\", r"\midrule"]
        for x in xs:
            cells = [f"{x:g}"]
            for k in keeps:
                p = pts[(pts["keep"] == k) & (pts[col] == x)]
                cells += (["—", "—"] if p.empty else
                          [_fmt(p["test_accuracy"].iloc[0]), _fmt(p["test_ce"].iloc[0], 4)])
            md.append("| " + " | ".join(cells) + " |")
            tex.append(" & ".join(tex_cell(c) for c in cells) + r" \\")
        md.append("")
        tex += [r"\bottomrule", r"\end{tabular}", ""]
        for k in keeps:
            p = pts[pts["keep"] == k].sort_values(col)
            if len(p) < 3:
                continue
            best = p.loc[p["test_accuracy"].idxmax()]
            inner = p[col].iloc[0] < best[col] < p[col].iloc[-1]
            ours.append(f"- {DATA_LABELS.get(d, d)} keep {k:g}: best accuracy {best['test_accuracy']:.2f} % at "
                        f"{col} = {best[col]:g} ({'inside the grid: rises then falls' if inner else 'at the edge'}"
                        f"; {p['test_accuracy'].iloc[0]:.2f} % at {p[col].iloc[0]:g}, "
                        f"{p['test_accuracy'].iloc[-1]:.2f} % at {p[col].iloc[-1]:g}); lowest CE at {col} = "
                        f"{p.loc[p['test_ce'].idxmin(), col]:g}.")
    md += [f"**Paper:** {claim}.", "", "**Ours:**", *ours, ""]
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out / figure), md, tex


def _theory(ok: pd.DataFrame, out: Path) -> list:
    runs = [Path(r) / "theory.json" for r in ok["run_dir"] if (Path(r) / "theory.json").exists()]
    if not runs:
        return []
    data = json.loads(runs[0].read_text())
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    d, r = np.asarray(data["curve"]["D"]), np.asarray(data["curve"]["R"])
    ax.plot(d, r, color="C0", label="R(D), Theorem 2")
    kinks = [k for k in data["kinks"] if k["R"] > 0]
    ax.scatter([k["D"] for k in kinks], [k["R"] for k in kinks], color="red", zorder=3, label="kinks")
    edges = [0.0] + [k["D"] for k in data["kinks"]]
    for n, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        mid = (lo + hi) / 2 if lo > 0 else hi / 2
        ax.annotate(f"({'abcdefgh'[n]})", (mid, float(np.interp(mid, d, r))), textcoords="offset points",
                    xytext=(4, 6), fontsize=9)
    checks = data["checks"]
    ax.errorbar([c["mc_distortion"] for c in checks], [c["mi_mc_bits"] for c in checks],
                xerr=[3.29 * c["mc_distortion_se"] for c in checks], yerr=[3.29 * c["mi_mc_se"] for c in checks],
                fmt="s", ms=4, color="C1", label="Theorem 3 compressor, Monte Carlo")
    top = 1.1 * float(np.interp(edges[1] / 4, d, r))  # R grows without bound as D -> 0
    ax.set(xlabel="distortion D", ylabel="rate (bits)", ylim=(0, top),
           title=f"λ = {data['lam']}, σ² = {data['sigma2']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    # the water levels D_i against D: coordinate i fills (D_i = σ_i²) at the kinks
    grid = np.linspace(0.05, edges[-1], 200)
    levels = np.array([np.minimum(_mu(g, data) / np.asarray(data["lam"]), np.asarray(data["sigma2"])) for g in grid])
    for i in range(levels.shape[1]):
        ax2.plot(grid, levels[:, i], label=f"D_{i + 1} (λ = {data['lam'][i]:g}, σ² = {data['sigma2'][i]:g})")
    ax2.set(xlabel="distortion D", ylabel="water level D_i", title="water levels (weighted water-filling)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    paths = save_figure(fig, out / "figure6")
    head = ["D", "R(D) bits", "E d (closed form)", "E d (MC) ± s.e.", "in 99.9 % CI", "I closed form",
            "I (MC) ± s.e.", "in CI", "full coords zero"]
    md = ["## Weighted water-filling (Figure 6)", "",
          "Kinks: " + ", ".join(f"({k['D']:g}, {k['R']:.4f})" for k in data["kinks"]) +
          f"; log2 6 = {math.log2(6):.4f}, log2 1.5 = {math.log2(1.5):.4f}.", "",
          f"Monte Carlo: {data['mc_samples']:,} draws per distortion, seed {data['seed']}.", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tex = [r"\begin{tabular}{rrrrlrrll}", r"\toprule", " & ".join(tex_cell(h) for h in head) + r" \\", r"\midrule"]
    for c in checks:
        cells = [f"{c['D']:g}", f"{c['rate_bits']:.4f}", f"{c['expected_distortion']:.4f}",
                 f"{c['mc_distortion']:.4f} ± {c['mc_distortion_se']:.4f}", "yes" if c["distortion_in_ci"] else "NO",
                 f"{c['mi_closed_form_bits']:.4f}", f"{c['mi_mc_bits']:.4f} ± {c['mi_mc_se']:.4f}",
                 "yes" if c["mi_in_ci"] else "NO", "yes" if c["full_coordinates_zero"] else "NO"]
        md.append("| " + " | ".join(cells) + " |")
        tex.append(" & ".join(tex_cell(x) for x in cells) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}"]
    md += ["", f"**Paper:** {FIGURES['figure6'][2]}.", "",
           f"**Ours:** {'every check passes' if data['passed'] else 'SOME CHECKS FAIL'}.", ""]
    (out / "figure6_table.md").write_text("\n".join(md) + "\n")
    (out / "figure6_table.tex").write_text("\n".join(tex) + "\n")
    return [*paths, out / "figure6_table.md", out / "figure6_table.tex"]


def _mu(D: float, data: dict) -> float:
    """The water level μ of Theorem 2 at distortion D (Σ min(μ, λσ²) = D), by bisection."""
    t = np.asarray(data["lam"]) * np.asarray(data["sigma2"])
    lo, hi = 0.0, float(t.max())
    if D >= t.sum():
        return hi
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(mid, t).sum() < D else (lo, mid)
    return (lo + hi) / 2


def _write(df: pd.DataFrame, out: Path, figure: str) -> list:
    ok = _ok(df, figure)
    if ok.empty:
        return []
    kind = FIGURES[figure][0]
    if kind == "theory":
        return _theory(ok, out)
    if kind == "sweep":
        paths, md, tex = _sweep(ok, figure, out)
    else:
        paths = _curve_figure(ok, figure, out / figure)
        md, tex = _curve_table(ok, figure)
    issues = problems(df, METHODS)
    if issues:
        md += ["Failed or missing jobs:", *[f"- {line}" for line in issues], ""]
    (out / f"{figure}_table.md").write_text("\n".join(md) + "\n")
    (out / f"{figure}_table.tex").write_text("\n".join(tex) + "\n")
    print("\n".join(md))
    return [*paths, out / f"{figure}_table.md", out / f"{figure}_table.tex"]


def _make(figure: str):
    def write(df, out: Path):
        return _write(df, out, figure)
    write.__name__ = f"write_{figure}"
    write.__doc__ = f"Paper 003, {FIGURES[figure][1]}."
    return write


for _figure in FIGURES:
    register(f"rd_{_figure}", "rd", METHODS)(_make(_figure))
