"""Paper figures from a sweep's DataFrame (PNG for looking, PDF for papers)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nncompress.report.tables import LABELS  # noqa: E402

COLORS = {"meanvar": "#1f77b4", "meankl": "#ff7f0e"}  # blue / orange, as in paper 000


def _save(fig, out_stem) -> list:
    out_stem = Path(out_stem)
    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def _band(ax, x, runs, color, label, positive=False):
    """Mean line with a ± standard-error band over runs (one row per run, NaN where a run has no value)."""
    table = pd.DataFrame(np.asarray(runs, dtype=float).reshape(-1, len(x)))
    n = table.count(axis=0).to_numpy()
    mean = table.mean(axis=0).to_numpy()
    # One run at a step has no spread to show: the band collapses onto the line there.
    se = np.nan_to_num(table.std(axis=0, ddof=1).to_numpy() / np.sqrt(np.maximum(n, 1)))
    lo, hi = mean - se, mean + se
    if positive:  # a log axis would drop band edges at or below zero
        lo = np.where(lo > 0, lo, mean)
    ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, linewidth=0)


def _ok(df, methods=("meanvar", "meankl")):
    return df[(df["status"] == "ok") & df["method"].isin(methods) & df["run_dir"].notna()]


def _curve(metrics: pd.DataFrame, col: str) -> pd.Series:
    """col against step from sparse Lightning rows; a step logged twice (resumed run) is averaged."""
    rows = metrics[["step", col]].dropna()
    return rows.groupby("step")[col].mean()


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
                    curves[col].append(_curve(metrics, col))
        for col, ax in ((CE, ax_ce), (KL, ax_kl)):
            if any(len(c) for c in curves[col]):
                table = pd.concat(curves[col], axis=1).sort_index()
                _band(ax, table.index.to_numpy(), table.to_numpy().T, COLORS[method],
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
    return _save(fig, out_stem)


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
    return _save(fig, out_stem)


def load_pruning(df: pd.DataFrame) -> dict:
    """{(method, strategy): (fractions, [accuracy per run])} from each run's pruning.json."""
    out = {}
    for _, row in _ok(df).iterrows():
        path = Path(row["run_dir"]) / "pruning.json"
        if not path.exists():
            continue
        curves = json.loads(path.read_text())
        for strategy, data in curves.items():
            if strategy == "fractions":
                continue
            out.setdefault((row["method"], strategy), (curves["fractions"], []))[1].append(data["accuracy"])
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
                _band(ax, np.asarray(fractions) * 100, runs, COLORS.get(method), f"{LABELS.get(method, method)} (n={len(runs)})")
        ax.set(title=titles[strategy], xlabel="weights set to zero (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()
    return _save(fig, out_stem)


def figure_table2(df: pd.DataFrame, out_stem) -> list:
    """Paper 001: test accuracy against compression ratio (log axis), one marker per method and model."""
    from nncompress.report.tables import MODEL_LABELS, PAPER_TABLE2, TABLE2_LABELS, TABLE2_METHODS

    ok = df[(df["status"] == "ok") & df["method"].isin(TABLE2_METHODS)]
    if ok.empty:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = {"lenet300_100": "o", "lenet5": "s"}
    colours = dict(zip(TABLE2_METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for (model, method), rows in ok.groupby(["model", "method"]):
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
    return _save(fig, out_stem)
