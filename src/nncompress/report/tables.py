"""Paper tables from a sweep's DataFrame: markdown for reading, LaTeX for papers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

LABELS = {"meanvar": "Mean-Var", "meankl": "Mean-KL"}
# Paper 000, Table 1 (MNIST test error after compression, %, mean ± s.e. over 10 seeds).
PAPER_TABLE1 = {20: {"meanvar": (0.82, 0.07), "meankl": (0.77, 0.05)},
                30: {"meanvar": (0.79, 0.05), "meankl": (0.87, 0.08)},
                40: {"meanvar": (0.87, 0.07), "meankl": (0.96, 0.08)}}
PAPER_ITERATIONS = {"meanvar": 200000, "meankl": 100000}


def mean_se(values) -> tuple:
    """Mean and standard error (sample std / sqrt(n)); s.e. is NaN for a single value."""
    v = np.asarray([x for x in values if x is not None and not pd.isna(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, 0
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
    return float(v.mean()), se, len(v)


def fmt(mean, se, unit=" %", digits=2) -> str:
    if math.isnan(mean):
        return "—"
    err = "—" if math.isnan(se) else f"{se:.{digits}f}"
    return f"{mean:.{digits}f} ± {err}{unit}"


def problems(df: pd.DataFrame, methods=None) -> list:
    """One line per failed or missing job."""
    bad = df[df["status"] != "ok"]
    if methods is not None:
        bad = bad[bad["method"].isin(methods)]
    lines = []
    for _, r in bad.iterrows():
        first = str(r.get("error") or "").strip().splitlines()[:1]
        lines.append(f"{r['status']}: method={r['method']} block={r['block']} seed={r['seed']}"
                     + (f" — {first[0]}" if first else ""))
    return lines


def table1(df: pd.DataFrame):
    """Paper 000, Table 1, ours beside the paper's. Returns (markdown, latex)."""
    methods = [m for m in ("meanvar", "meankl") if m in set(df["method"])]
    ok = df[(df["status"] == "ok") & df["method"].isin(methods)]
    blocks = sorted(int(b) for b in df[df["method"].isin(methods)]["block"].dropna().unique())
    max_n = ok.groupby(["method", "block"]).size().max() if len(ok) else 0
    md = ["| Block Size | Ratio | " + " | ".join(f"{LABELS[m]} (ours)" for m in methods)
          + " | " + " | ".join(f"{LABELS[m]} (paper)" for m in methods) + " |",
          "|" + "---|" * (2 + 2 * len(methods))]
    tex_rows = []
    for b in blocks:
        cells = ok[ok["block"] == b]
        ratio = cells["ratio_paper"].dropna()
        rfile = cells["ratio_file"].dropna()
        ratio_txt = f"{ratio.mean():.0f}×" if len(ratio) else "—"
        if len(rfile):
            ratio_txt += f" (file {rfile.mean():.0f}×)"
        ours, ours_tex = [], []
        for m in methods:
            mean, se, n = mean_se(cells[cells["method"] == m]["test_error"])
            note = f" (n={n})" if 0 < n < max_n else ""
            ours.append(fmt(mean, se) + note)
            ours_tex.append(fmt(mean, se, unit=r"\,\%").replace("±", r"$\pm$") + note)
        paper = [fmt(*PAPER_TABLE1[b][m]) if b in PAPER_TABLE1 else "—" for m in methods]
        md.append(f"| {b} | {ratio_txt} | " + " | ".join(ours) + " | " + " | ".join(paper) + " |")
        ratio_tex = ratio_txt.replace("×", r"$\times$")
        tex_rows.append(f"{b} & {ratio_tex} & " + " & ".join(ours_tex) + r" \\")
    steps = [str(int(ok[ok["method"] == m]["train_steps"].max())) if len(ok[ok["method"] == m]) else "—"
             for m in methods]
    md.append("| Optimizer iterations | | " + " | ".join(f"{int(s):,}" if s != "—" else s for s in steps)
              + " | " + " | ".join(f"{PAPER_ITERATIONS[m]:,}" for m in methods) + " |")
    issues = problems(df, methods)
    if issues:
        md += ["", "Failed or missing jobs:", *[f"- {line}" for line in issues]]
    cols = "r" + "r" + "c" * len(methods)
    tex = [r"\begin{tabular}{" + cols + "}", r"\toprule",
           "Block size & Ratio & " + " & ".join(LABELS[m] for m in methods) + r" \\", r"\midrule",
           *tex_rows, r"\midrule", "Optimizer iterations & & " + " & ".join(steps) + r" \\",
           r"\bottomrule", r"\end{tabular}"]
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
            cells.append(fmt(*mean_se([r[i] for r in runs])[:2]) if on_grid else "—")
        md.append(f"| {LABELS.get(method, method)} | {strategy} | " + " | ".join(cells) + " |")
        tex.append(f"{LABELS.get(method, method)} & {strategy} & "
                   + " & ".join(c.replace("±", r"$\pm$").replace("%", r"\%") for c in cells) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"
