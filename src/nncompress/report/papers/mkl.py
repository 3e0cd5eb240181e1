"""Paper 000 (MIRACLE, Mean-Var vs Mean-KL): Table 1 and Figures 1-3, beside the paper's numbers."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nncompress.report.common import (
    band,
    finite,
    fmt,
    mean_se,
    metric_curve,
    ok_rows,
    problems,
    save_figure,
    tex_cell,
    tex_escape,
)
from nncompress.report.papers import register

LABELS = {"meanvar": "Mean-Var", "meankl": "Mean-KL"}
METHODS = tuple(LABELS)
COLORS = {"meanvar": "#1f77b4", "meankl": "#ff7f0e"}  # blue / orange, as in paper 000
# Paper 000, Table 1 (MNIST test error after compression, %, mean ± s.e. over 10 seeds).
PAPER_TABLE1 = {20: {"meanvar": (0.82, 0.07), "meankl": (0.77, 0.05)},
                30: {"meanvar": (0.79, 0.05), "meankl": (0.87, 0.08)},
                40: {"meanvar": (0.87, 0.07), "meankl": (0.96, 0.08)}}
PAPER_ITERATIONS = {"meanvar": 200000, "meankl": 100000}


def _ok(df):
    return ok_rows(df, METHODS)


def _steps(values) -> str:
    steps = sorted({int(s) for s in finite(values)})
    return " / ".join(f"{s:,}" for s in steps) or "—"


def table1(df: pd.DataFrame):
    """Paper 000, Table 1 (test error %, mean ± s.e. over ok seeds), the paper's numbers beside ours.

    Returns (markdown, latex); both end with the failed/missing jobs, if any.
    """
    methods = list(LABELS)
    ok = df[(df["status"] == "ok") & df["method"].isin(methods)]
    blocks = sorted(int(b) for b in df[df["method"].isin(methods)]["block"].dropna().unique())
    counts = {(m, b): len(finite(ok[(ok["method"] == m) & (ok["block"] == b)]["test_error"]))
              for m in methods for b in blocks}
    max_n = max(counts.values(), default=0)
    head = ["Block Size", "Ratio", *LABELS.values(), *(f"Paper {LABELS[m]}" for m in methods)]
    rows = []
    for b in blocks:
        cells = ok[ok["block"] == b]
        ratio, rfile = finite(cells.get("ratio_paper", [])), finite(cells.get("ratio_file", []))
        ratio_txt = f"{ratio.mean():.0f}×" if len(ratio) else "—"
        if len(rfile):
            ratio_txt += f" (file {rfile.mean():.0f}×)"
        ours = []
        for m in methods:
            n = counts[(m, b)]
            text = fmt(*mean_se(cells[cells["method"] == m]["test_error"]))
            ours.append(text + (f" (n={n})" if 0 < n < max_n else ""))
        paper = [fmt(*PAPER_TABLE1[b][m]) if b in PAPER_TABLE1 else "—" for m in methods]
        rows.append([str(b), ratio_txt, *ours, *paper])
    rows.append(["Optimizer iterations", "", *(_steps(ok[ok["method"] == m].get("train_steps", [])) for m in methods),
                 *(f"{PAPER_ITERATIONS[m]:,}" for m in methods)])
    issues = problems(df, methods)
    caption = "Test error (%), mean ± s.e. over seeds; (n=…) marks cells with fewer seeds than the others."

    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", caption]
    if issues:
        md += ["", f"Note: {len(issues)} failed or missing job(s):", *(f"- {line}" for line in issues)]

    tex = [r"\begin{tabular}{rl" + "c" * (len(head) - 2) + "}", r"\toprule",
           " & ".join(head) + r" \\", r"\midrule"]
    tex += [" & ".join(tex_cell(c) for c in r) + r" \\" for r in rows[:-1]]
    tex += [r"\midrule", " & ".join(tex_cell(c) for c in rows[-1]) + r" \\", r"\bottomrule", r"\end{tabular}"]
    if issues:
        tex += ["", r"\par\noindent\footnotesize Failed or missing jobs: "
                + "; ".join(tex_escape(line) for line in issues) + "."]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"


def pruning_table(curves: dict, at=(0.3, 0.5, 0.7, 0.9)):
    """Accuracy (%) at given fractions pruned, mean ± s.e. per method and strategy.

    `curves`: {(method, strategy): (fractions, [accuracy lists, one per run])}. Returns (md, tex).
    """
    head = "| Method | Strategy | " + " | ".join(f"{int(f * 100)} % pruned" for f in at) + " |"
    md = [head, "|" + "---|" * (2 + len(at))]
    tex = [r"\begin{tabular}{ll" + "c" * len(at) + "}", r"\toprule",
           "Method & Strategy & " + " & ".join(f"{int(f * 100)}\\,\\%" for f in at) + r" \\", r"\midrule"]
    for (method, strategy), (fractions, runs) in sorted(curves.items()):
        cells = []
        for f in at:
            i = int(np.argmin(np.abs(np.asarray(fractions) - f)))
            on_grid = abs(fractions[i] - f) < 1e-9
            cells.append(fmt(*mean_se([r[i] for r in runs])) if on_grid else "—")
        md.append(f"| {LABELS.get(method, method)} | {strategy} | " + " | ".join(cells) + " |")
        tex.append(f"{LABELS.get(method, method)} & {strategy} & "
                   + " & ".join(c.replace("±", r"$\pm$").replace("%", r"\%") for c in cells) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"


def _budget(df: pd.DataFrame, default: float = 20.0) -> float:
    values = pd.to_numeric(_ok(df).get("bits_per_block", pd.Series(dtype=float)), errors="coerce").dropna()
    return float(values.mode().iloc[0]) if len(values) else default


CE, KL = "train/ce", "train/kl_bits_per_block_mean"


def figure2(df: pd.DataFrame, out_stem) -> list:
    """Training dynamics of Mean-Var vs Mean-KL: cross-entropy and KL per block against iteration.

    One line per method: the mean over its ok runs' metrics.csv, aligned on step (runs of
    different lengths are averaged where present), with a ± s.e. band. Writes .png and .pdf.
    """
    fig, (ax_ce, ax_kl) = plt.subplots(1, 2, figsize=(10, 3.8))
    ok = _ok(df)
    for method in LABELS:
        curves = {CE: [], KL: []}
        for run_dir in ok[ok["method"] == method]["run_dir"]:
            path = Path(run_dir) / "metrics.csv"
            if not path.exists():
                continue
            metrics = pd.read_csv(path)
            for col in curves:
                if col in metrics and "step" in metrics:
                    curves[col].append(metric_curve(metrics, col))
        for col, ax in ((CE, ax_ce), (KL, ax_kl)):
            if any(len(c) for c in curves[col]):
                table = pd.concat(curves[col], axis=1).sort_index()
                band(ax, table.index.to_numpy(), table.to_numpy().T, COLORS[method],
                      f"{LABELS[method]} (n={len(curves[col])})", positive=col == KL)
    budget = _budget(df)
    ax_kl.axhline(budget, color="k", linestyle="--", linewidth=1, label=f"budget ({budget:g} bits)")
    ax_ce.set(xlabel="iteration", ylabel="cross-entropy (train)", title="Cross-entropy")
    ax_kl.set(xlabel="iteration", ylabel="KL per block (bits)", yscale="log", title="KL divergence")
    for ax in (ax_ce, ax_kl):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no training metrics", transform=ax.transAxes, ha="center", color="gray")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def figure1(df: pd.DataFrame, out_stem, bins: int = 60) -> list:
    """Per-layer histograms of the mean and log std each weight was coded from, pooled over runs."""
    pooled = {}
    for _, row in _ok(df).iterrows():
        path = Path(row["run_dir"]) / "posterior.npz"
        if path.exists():
            pooled.setdefault(row["method"], []).append(np.load(path))
    if not pooled:
        return []
    names = list(next(iter(pooled.values()))[0]["layer_names"])
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 5.5))
    for j, name in enumerate(names):
        for i, key in enumerate(("mu", "log_sigma")):
            values = {m: np.concatenate([p[key][p["layer"] == j] for p in runs]) for m, runs in pooled.items()}
            lo = min(np.percentile(v, 0.5) for v in values.values())
            hi = max(np.percentile(v, 99.5) for v in values.values())
            edges = np.linspace(lo, hi, bins + 1)
            for method, v in values.items():
                axes[i, j].hist(v, bins=edges, alpha=0.55, color=COLORS.get(method), label=LABELS.get(method, method),
                                density=True)
            axes[i, j].set_title(f"{name}: {'mean' if key == 'mu' else 'log std'}", fontsize=10)
            axes[i, j].set_yticks([])
    axes[0, 0].legend()
    fig.tight_layout()
    return save_figure(fig, out_stem)


def load_pruning(df: pd.DataFrame) -> dict:
    """{(method, strategy): (fractions, [accuracy per run])} from each run's pruning.json.

    Each curve's own grid (older files: the file's shared one); a run whose grid differs from the
    first run's of that method and strategy is left out, with a warning."""
    out = {}
    for _, row in _ok(df).iterrows():
        path = Path(row["run_dir"]) / "pruning.json"
        if not path.exists():
            continue
        curves = json.loads(path.read_text())
        for strategy, data in curves.items():
            if strategy == "fractions" or not isinstance(data, dict):
                continue
            grid = data.get("fractions", curves.get("fractions"))
            fractions, runs = out.setdefault((row["method"], strategy), (grid, []))
            if grid != fractions:
                print(f"warning: {path}: the {strategy} curve has other fractions than the first "
                      f"{row['method']} run's; left out of figure 3", file=sys.stderr)
                continue
            runs.append(data["accuracy"])
    return out


def figure3(curves: dict, out_stem) -> list:
    """Accuracy against fraction pruned: random, magnitude, KL panels; mean ± s.e. over runs."""
    strategies = [s for s in ("random", "magnitude", "kl") if any(k[1] == s for k in curves)]
    if not strategies:
        return []
    titles = {"random": "Random uniform", "magnitude": "Absolute value", "kl": "KL divergence"}
    fig, axes = plt.subplots(1, len(strategies), figsize=(4 * len(strategies), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, strategy in zip(axes, strategies):
        for (method, s), (fractions, runs) in sorted(curves.items()):
            if s == strategy:
                band(ax, np.asarray(fractions) * 100, runs, COLORS.get(method),
                     f"{LABELS.get(method, method)} (n={len(runs)})")
        ax.set(title=titles[strategy], xlabel="weights set to zero (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()
    return save_figure(fig, out_stem)


# -- registered outputs -------------------------------------------------------------------------
def _write(out: Path, name: str, text: str) -> Path:
    path = out / name
    path.write_text(text)
    return path


@register("table1", "mkl", METHODS)
def write_table1(df, out):
    md, tex = table1(df)
    print(md)
    return [_write(out, "table1.md", md), _write(out, "table1.tex", tex)]


@register("figure1", "mkl", METHODS)
def write_figure1(df, out):
    return figure1(df, out / "figure1")


@register("figure2", "mkl", METHODS)
def write_figure2(df, out):
    return figure2(df, out / "figure2")


@register("figure3", "mkl", METHODS)
def write_figure3(df, out):
    curves = load_pruning(df)
    if not curves:  # pruning curves are written by a separate task; nothing to draw without them
        return []
    md, tex = pruning_table(curves)
    print(md)
    return [*figure3(curves, out / "figure3"), _write(out, "figure3_table.md", md),
            _write(out, "figure3_table.tex", tex)]
