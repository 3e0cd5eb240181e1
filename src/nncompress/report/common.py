"""What every paper's report shares: mean ± s.e., cell formatting (markdown and LaTeX), the list of
failed or missing jobs, and figure helpers (PNG for looking, PDF for papers)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def finite(values) -> np.ndarray:
    v = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
    return v[np.isfinite(v)]


def mean_se(values) -> tuple:
    """Mean and standard error (sample std, ddof=1, / sqrt(n)); s.e. is NaN for n=1, both NaN for n=0."""
    v = finite(values)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan)


def fmt(mean, se, unit=" %", digits=2) -> str:
    """'0.82 ± 0.07 %'; an unknown s.e. shows as '—', an unknown mean as '—' alone."""
    if mean is None or math.isnan(mean):
        return "—"
    err = "—" if se is None or math.isnan(se) else f"{se:.{digits}f}"
    return f"{mean:.{digits}f} ± {err}{unit}"


def tex_cell(text: str) -> str:
    """Markdown cell -> LaTeX cell (our own cells only carry ±, ×, % and —)."""
    return (text.replace("%", r"\%").replace(" ± ", r" $\pm$ ").replace("×", r"$\times$")
            .replace("—", "---").replace(",", "{,}"))


def tables(head: list, rows: list, caption: str = "", notes=()) -> tuple:
    """(markdown, latex) of one table of text cells: the markdown with its caption and `notes`
    (markdown lines) below it; the LaTeX a booktabs tabular of the same cells (`tex_cell`, ^ and ≤
    made LaTeX; caption and notes are left to the paper's own text)."""
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]
    if caption:
        md += ["", caption]
    if notes:
        md += ["", *notes]

    def tex(c):
        return tex_cell(c).replace("^", r"\^{}").replace("≤", r"$\le$")
    lines = [r"\begin{tabular}{" + "l" * len(head) + "}", r"\toprule", " & ".join(tex(h) for h in head) + r" \\",
             r"\midrule", *(" & ".join(tex(c) for c in r) + r" \\" for r in rows), r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(lines) + "\n"


def tex_escape(text: str) -> str:
    """Free text such as an error message, made safe for LaTeX."""
    out = re.sub(r"([&%$#_{}])", r"\\\1", text.replace("\\", "/"))
    return out.replace("~", r"\~{}").replace("^", r"\^{}").replace("—", "---")


def int_text(v) -> str:
    return "?" if v is None or pd.isna(v) else str(int(v)) if float(v) == int(v) else str(v)


def problems(df: pd.DataFrame, methods=None) -> list:
    """One line per failed or missing job: its status, method, every swept key's value and the
    error's first line."""
    bad = df[df["status"] != "ok"]
    if methods is not None:
        bad = bad[bad["method"].isin(methods)]
    keys = [k for k in df.attrs.get("sweep_keys", []) if k != "method"] or ["block", "seed"]
    lines = []
    for _, r in bad.iterrows():
        err = r.get("error")
        first = str(err).strip().splitlines()[:1] if err is not None and not pd.isna(err) else []
        cells = " ".join(f"{k}={int_text(r.get(k)) if k in ('block', 'seed') else r.get(k)}" for k in keys)
        lines.append(f"{r['status']}: method={r['method']} {cells}" + (f" — {first[0]}" if first else ""))
    return lines


def ok_rows(df: pd.DataFrame, methods) -> pd.DataFrame:
    """The finished jobs of `methods` that have a run dir."""
    return df[(df["status"] == "ok") & df["method"].isin(methods) & df["run_dir"].notna()]


def save_figure(fig, out_stem) -> list:
    out_stem = Path(out_stem)
    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def band(ax, x, runs, color, label, positive=False):
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


def metric_curve(metrics: pd.DataFrame, col: str) -> pd.Series:
    """col against step from sparse Lightning rows; a step logged twice (resumed run) is averaged."""
    rows = metrics[["step", col]].dropna()
    return rows.groupby("step")[col].mean()
