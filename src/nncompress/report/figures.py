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


def _band(ax, x, runs, color, label):
    """Mean line with a ± standard-error band over runs (rows of a 2-D array, NaN where absent)."""
    runs = np.asarray(runs, dtype=float)
    n = np.sum(~np.isnan(runs), axis=0)
    mean = np.nanmean(runs, axis=0)
    se = np.where(n > 1, np.nanstd(runs, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1)), 0.0) if len(runs) > 1 else 0 * mean
    ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.25, linewidth=0)


def _ok(df, methods=("meanvar", "meankl")):
    return df[(df["status"] == "ok") & df["method"].isin(methods) & df["run_dir"].notna()]


def figure2(df: pd.DataFrame, out_stem) -> list:
    """Training dynamics: cross-entropy and KL per block against iteration."""
    fig, (ax_ce, ax_kl) = plt.subplots(1, 2, figsize=(10, 3.8))
    budget = 20
    for method, group in _ok(df).groupby("method"):
        curves = {}
        for _, row in group.iterrows():
            path = Path(row["run_dir"]) / "metrics.csv"
            if not path.exists():
                continue
            m = pd.read_csv(path)
            budget = row.get("bits_per_block") or budget
            for col in ("train/ce", "train/kl_bits_per_block_mean"):
                if col in m:
                    curves.setdefault(col, []).append(m[["step", col]].dropna().set_index("step")[col])
        for col, ax in (("train/ce", ax_ce), ("train/kl_bits_per_block_mean", ax_kl)):
            if col in curves:
                table = pd.concat(curves[col], axis=1)
                _band(ax, table.index.values, table.values.T, COLORS[method], LABELS[method])
    ax_ce.set(xlabel="iteration", ylabel="cross-entropy (train)", title="Cross-entropy")
    ax_kl.axhline(float(budget), color="k", linestyle="--", linewidth=1, label=f"budget ({budget:g} bits)")
    ax_kl.set(xlabel="iteration", ylabel="KL per block (bits)", yscale="log", title="KL divergence")
    for ax in (ax_ce, ax_kl):
        ax.legend()
        ax.grid(alpha=0.3)
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
