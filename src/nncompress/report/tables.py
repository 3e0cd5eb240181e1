"""Paper tables from a sweep's DataFrame: markdown for reading, LaTeX for papers."""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

LABELS = {"meanvar": "Mean-Var", "meankl": "Mean-KL"}
# Paper 000, Table 1 (MNIST test error after compression, %, mean ± s.e. over 10 seeds).
PAPER_TABLE1 = {20: {"meanvar": (0.82, 0.07), "meankl": (0.77, 0.05)},
                30: {"meanvar": (0.79, 0.05), "meankl": (0.87, 0.08)},
                40: {"meanvar": (0.87, 0.07), "meankl": (0.96, 0.08)}}
PAPER_ITERATIONS = {"meanvar": 200000, "meankl": 100000}


def mean_se(values) -> tuple:
    """Mean and standard error (sample std, ddof=1, / sqrt(n)); s.e. is NaN for n=1, both NaN for n=0."""
    v = _finite(values)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan)


def _finite(values) -> np.ndarray:
    v = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
    return v[np.isfinite(v)]


def fmt(mean, se, unit=" %", digits=2) -> str:
    """'0.82 ± 0.07 %'; an unknown s.e. shows as '—', an unknown mean as '—' alone."""
    if mean is None or math.isnan(mean):
        return "—"
    err = "—" if se is None or math.isnan(se) else f"{se:.{digits}f}"
    return f"{mean:.{digits}f} ± {err}{unit}"


def _tex(text: str) -> str:
    """Markdown cell -> LaTeX cell (our own cells only carry ±, ×, % and —)."""
    return (text.replace("%", r"\%").replace(" ± ", r" $\pm$ ").replace("×", r"$\times$")
            .replace("—", "---").replace(",", "{,}"))


def _tex_escape(text: str) -> str:
    """Free text such as an error message, made safe for LaTeX."""
    out = re.sub(r"([&%$#_{}])", r"\\\1", text.replace("\\", "/"))
    return out.replace("~", r"\~{}").replace("^", r"\^{}").replace("—", "---")


def _int(v) -> str:
    return "?" if v is None or pd.isna(v) else str(int(v)) if float(v) == int(v) else str(v)


def problems(df: pd.DataFrame, methods=None) -> list:
    """One line per failed or missing job: status, method, block, seed and the error's first line."""
    bad = df[df["status"] != "ok"]
    if methods is not None:
        bad = bad[bad["method"].isin(methods)]
    lines = []
    for _, r in bad.iterrows():
        err = r.get("error")
        first = str(err).strip().splitlines()[:1] if err is not None and not pd.isna(err) else []
        lines.append(f"{r['status']}: method={r['method']} block={_int(r['block'])} seed={_int(r['seed'])}"
                     + (f" — {first[0]}" if first else ""))
    return lines


def _steps(values) -> str:
    steps = sorted({int(s) for s in _finite(values)})
    return " / ".join(f"{s:,}" for s in steps) or "—"


def table1(df: pd.DataFrame):
    """Paper 000, Table 1 (test error %, mean ± s.e. over ok seeds), the paper's numbers beside ours.

    Returns (markdown, latex); both end with the failed/missing jobs, if any.
    """
    methods = list(LABELS)
    ok = df[(df["status"] == "ok") & df["method"].isin(methods)]
    blocks = sorted(int(b) for b in df[df["method"].isin(methods)]["block"].dropna().unique())
    counts = {(m, b): len(_finite(ok[(ok["method"] == m) & (ok["block"] == b)]["test_error"]))
              for m in methods for b in blocks}
    max_n = max(counts.values(), default=0)
    head = ["Block Size", "Ratio", *LABELS.values(), *(f"Paper {LABELS[m]}" for m in methods)]
    rows = []
    for b in blocks:
        cells = ok[ok["block"] == b]
        ratio, rfile = _finite(cells.get("ratio_paper", [])), _finite(cells.get("ratio_file", []))
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
    tex += [" & ".join(_tex(c) for c in r) + r" \\" for r in rows[:-1]]
    tex += [r"\midrule", " & ".join(_tex(c) for c in rows[-1]) + r" \\", r"\bottomrule", r"\end{tabular}"]
    if issues:
        tex += ["", r"\par\noindent\footnotesize Failed or missing jobs: "
                + "; ".join(_tex_escape(line) for line in issues) + "."]
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


# Paper 001, Table 2: accuracy %, |W != 0| / |W| %, compression ratio.
PAPER_TABLE2 = {
    "lenet300_100": {"l2": (98.39, 100, 1), "sws": (98.16, 8.6, 34), "vd": (98.05, 1.6, 131), "vd_sws": (98.24, 1.5, 161)},
    "lenet5": {"l2": (99.13, 100, 1), "sws": (99.01, 3.6, 84), "vd": (99.09, 0.7, 349), "vd_sws": (99.14, 0.5, 482)},
}
TABLE2_METHODS = ("l2", "sws", "vd", "vd_sws")
TABLE2_LABELS = {"l2": "L2", "sws": "SWS", "vd": "VD", "vd_sws": "VD+SWS"}
MODEL_LABELS = {"lenet300_100": "LeNet-300-100", "lenet5": "LeNet-5-Caffe"}


def table2(df: pd.DataFrame):
    """Paper 001, Table 2: accuracy, non-zero %, CR (paper accounting and file), ours beside the paper's."""
    ok = df[(df["status"] == "ok") & df["method"].isin(TABLE2_METHODS)]
    head = ("| Model | Method | Acc % | |W≠0|/|W| % | CR (paper acct.) | CR (file) "
            "| paper Acc % | paper |W≠0|/|W| % | paper CR |")
    md = [head, "|" + "---|" * 9]
    tex = [r"\begin{tabular}{llrrrrrrr}", r"\toprule",
           r"Model & Method & Acc\,\% & $|W\neq0|/|W|$\,\% & CR & CR (file) & \multicolumn{3}{c}{paper} \\",
           r"\midrule"]
    for model in [m for m in PAPER_TABLE2 if m in set(ok.get("model", []))]:
        for method in TABLE2_METHODS:
            rows = ok[(ok["model"] == model) & (ok["method"] == method)]
            if rows.empty:
                continue
            acc = fmt(*mean_se(100.0 - rows["test_error"]), unit="")
            nz = fmt(*mean_se(100.0 * rows["nonzero_fraction"].fillna(1.0)), unit="", digits=1)
            cr = f"{rows['ratio_paper'].mean():.0f}" if "ratio_paper" in rows and rows["ratio_paper"].notna().any() else "1"
            crf = f"{rows['ratio_file'].mean():.0f}" if "ratio_file" in rows and rows["ratio_file"].notna().any() else "—"
            pa, pn, pc = PAPER_TABLE2[model][method]
            cells = [MODEL_LABELS[model], TABLE2_LABELS[method], acc, nz, cr, crf, f"{pa:.2f}", f"{pn:g}", f"{pc:g}"]
            md.append("| " + " | ".join(cells) + " |")
            tex.append(" & ".join(_tex(c) for c in cells) + r" \\")
    issues = problems(df, TABLE2_METHODS)
    if issues:
        md += ["", "Failed or missing jobs:", *[f"- {line}" for line in issues]]
    tex += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"
