"""Paper 001 (improved Bayesian compression): Table 2 and accuracy against compression ratio,
beside the paper's numbers. Rows are keyed by architecture (`arch`), so LeNet-5-Caffe is the
paper's row whatever the run's model name (lenet5_unhashed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nncompress.methods.ibc.trajectory import FILE as TRAJECTORY
from nncompress.methods.ibc.trajectory import load as load_trajectory
from nncompress.report.common import fmt, mean_se, problems, save_figure, tex_cell
from nncompress.report.papers import register

# Paper 001, Table 2: accuracy %, |W != 0| / |W| %, compression ratio.
PAPER_TABLE2 = {
    "lenet300_100": {"l2": (98.39, 100, 1), "sws": (98.16, 8.6, 34), "vd": (98.05, 1.6, 131),
                     "vd_sws": (98.24, 1.5, 161)},
    "lenet5": {"l2": (99.13, 100, 1), "sws": (99.01, 3.6, 84), "vd": (99.09, 0.7, 349), "vd_sws": (99.14, 0.5, 482)},
}
TABLE2_METHODS = ("l2", "sws", "vd", "vd_sws")
TABLE2_LABELS = {"l2": "L2", "sws": "SWS", "vd": "VD", "vd_sws": "VD+SWS"}
MODEL_LABELS = {"lenet300_100": "LeNet-300-100", "lenet5": "LeNet-5-Caffe"}


def _with_arch(df: pd.DataFrame) -> pd.DataFrame:
    """The architecture of each row (sweeps from before the `arch` key: the model name)."""
    df = df.copy()
    arch = df["arch"] if "arch" in df else pd.Series(None, index=df.index, dtype=object)
    df["arch"] = arch.where(arch.notna(), df.get("model"))
    return df


def table2(df: pd.DataFrame):
    """Paper 001, Table 2: accuracy, non-zero %, CR (paper accounting and file), ours beside the paper's."""
    ok = _with_arch(df[(df["status"] == "ok") & df["method"].isin(TABLE2_METHODS)])
    head = ("| Model | Method | Acc % | |W≠0|/|W| % | CR (paper acct.) | CR (file) "
            "| paper Acc % | paper |W≠0|/|W| % | paper CR |")
    md = [head, "|" + "---|" * 9]
    tex = [r"\begin{tabular}{llrrrrrrr}", r"\toprule",
           r"Model & Method & Acc\,\% & $|W\neq0|/|W|$\,\% & CR & CR (file) & \multicolumn{3}{c}{paper} \\",
           r"\midrule"]
    for model in [m for m in PAPER_TABLE2 if m in set(ok["arch"])]:
        for method in TABLE2_METHODS:
            rows = ok[(ok["arch"] == model) & (ok["method"] == method)]
            if rows.empty:
                continue
            acc = fmt(*mean_se(100.0 - rows["test_error"]), unit="")
            kept = rows["nonzero_fraction"].fillna(1.0) if "nonzero_fraction" in rows else rows["test_error"] * 0 + 1.0
            nz = fmt(*mean_se(100.0 * kept), unit="", digits=1)  # L2 alone: no column, every weight kept
            cr, crf = (f"{rows[k].mean():.0f}" if k in rows and rows[k].notna().any() else none
                       for k, none in (("ratio_paper", "1"), ("ratio_file", "—")))
            pa, pn, pc = PAPER_TABLE2[model][method]
            cells = [MODEL_LABELS[model], TABLE2_LABELS[method], acc, nz, cr, crf, f"{pa:.2f}", f"{pn:g}", f"{pc:g}"]
            md.append("| " + " | ".join(cells) + " |")
            tex.append(" & ".join(tex_cell(c) for c in cells) + r" \\")
    issues = problems(df, TABLE2_METHODS)
    if issues:
        md += ["", "Failed or missing jobs:", *[f"- {line}" for line in issues]]
    tex += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"


def figure_table2(df: pd.DataFrame, out_stem) -> list:
    """Paper 001: test accuracy against compression ratio (log axis), one marker per method and model."""
    ok = _with_arch(df[(df["status"] == "ok") & df["method"].isin(TABLE2_METHODS)])
    if ok.empty:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = {"lenet300_100": "o", "lenet5": "s"}
    colours = dict(zip(TABLE2_METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for (model, method), rows in ok.groupby(["arch", "method"]):
        cr = rows["ratio_paper"].fillna(1.0).mean() if "ratio_paper" in rows else 1.0
        ours = (cr, (100 - rows["test_error"]).mean())
        ax.scatter(*ours, marker=markers.get(model, "x"), s=50, color=colours[method],
                   label=f"{MODEL_LABELS.get(model, model)} {TABLE2_LABELS[method]}")
        pa, _, pc = PAPER_TABLE2.get(model, {}).get(method, (None, None, None))
        if pa is not None:  # the paper's point, hollow in the same colour, joined to ours
            ax.scatter(pc, pa, marker=markers.get(model, "x"), s=50, facecolors="none", edgecolors=colours[method])
            ax.plot([ours[0], pc], [ours[1], pa], color=colours[method], lw=0.6, ls=":")
    ax.set(xscale="log", xlabel="compression ratio (log)", ylabel="test accuracy (%)",
           title="Accuracy against compression (filled: ours, hollow: paper 001)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out_stem)


@register("table2", "ibc", TABLE2_METHODS)
def write_table2(df, out: Path):
    md, tex = table2(df)
    print(md)
    (out / "table2.md").write_text(md)
    (out / "table2.tex").write_text(tex)
    return [out / "table2.md", out / "table2.tex"]


@register("figure_table2", "ibc", TABLE2_METHODS)
def write_figure_table2(df, out: Path):
    return figure_table2(df, out / "table2_accuracy_vs_cr")


def figure_trajectory(runs: list, out_stem) -> list:
    """log σ² (top) and log α (bottom) of each run's sampled weights over training, one column per
    run: `runs` is [(label, path of log_alpha_trajectory.npz)]. Weights dropped at the end (log α ≥
    3) in red, kept in blue; the dashed line is Adam's reach, the start plus the summed rates of
    log σ², the most it can have climbed, and the dotted one the drop threshold."""
    if not runs:
        return []
    fig, axes = plt.subplots(2, len(runs), figsize=(4.2 * len(runs), 6), sharey="row", squeeze=False)
    highest = -np.inf
    for col, (label, path) in enumerate(runs):
        d = load_trajectory(path)
        steps, dropped = d["step"], d["log_alpha"][-1] >= d["threshold"]
        for row, key in enumerate(("log_sigma2", "log_alpha")):
            ax = axes[row, col]
            for keep, colour in ((True, "tab:blue"), (False, "tab:red")):
                sel = dropped != keep
                if sel.any():
                    ax.plot(steps, d[key][:, sel], color=colour, lw=0.4, alpha=0.35)
            if key == "log_sigma2":
                ax.plot(steps, d["reach"], "k--", lw=1, label="Adam's reach")
                highest = max(highest, float(d[key].max()))
                ax.set_title(f"{label}: {dropped.mean():.0%} of {dropped.size} dropped", fontsize=9)
            else:
                ax.axhline(d["threshold"], color="k", ls=":", lw=1, label="drop threshold")
                ax.set_xlabel("training step")
            ax.grid(alpha=0.3)
        axes[0, col].legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylim(top=highest + 3.0)  # the weights, not the reach of a fast rate, fill the panel
    axes[0, 0].set_ylabel("log σ²")
    axes[1, 0].set_ylabel("log α = log σ² − log θ²")
    fig.tight_layout()
    return save_figure(fig, out_stem)


@register("log_alpha_trajectory", "ibc", ("vd", "vd_sws"))
def write_trajectory(df, out: Path):
    rows = df[(df["status"] == "ok") & df["method"].isin(("vd", "vd_sws"))]
    runs = [(Path(r).name, Path(r) / TRAJECTORY) for r in rows["run_dir"] if (Path(r) / TRAJECTORY).exists()]
    return figure_trajectory(runs, out / "log_alpha_trajectory")
