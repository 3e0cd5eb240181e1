"""Issue 23: MIRACLE's coders side by side (experiments/mkl_coders.yaml). For each block KL budget
C, one trained Mean-KL posterior coded by MRC, ORC and PFR (trained_from): bits per block against
the block's KL and each coder's bound, the test error of what decodes against the file's size,
coding time; and, where the posterior is known exactly (Gaussian blocks of 1 and 2 dimensions,
`coding.gaussian_coders`), the coded sample's binned TV / KL against it beside the exact floor.

Writes coders.md/.tex, coders_equal_size.md/.tex (each coder's error at the other coders' file
sizes), coders.png/.pdf and coders_gaussian.md/.tex/.json, only for a sweep that codes with two
coders or more. A job paused after its first blocks (coding.stop_after: the quick recipe's C = 20
and 30) is a partial row: its per-block numbers over those blocks, no file size and no error after
coding (shown as "—"), and no point in the error-against-size panel or the equal-size table.

Bounds drawn (per block, KL in bits): MRC and ORC write KL + t bits with N = 2^(KL + t)
candidates (t = 0 here, the papers' setting); PFR (Li & El Gamal 2018, Theorem 1) expected code
length <= KL + log2(KL + 1) + 4, and E[log2 K] <= KL + e^-1 log2 e + 1 for its index K (counted
from 1; we plot log2 (k + 1) of the 0-based k).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

from nncompress.coding import expgolomb
from nncompress.coding.gaussian_coders import LI_EL_GAMAL_LOG2K, pfr_code_bound
from nncompress.coding.gaussian_coders import table as gaussian_table
from nncompress.report.common import problems, save_figure, tables
from nncompress.report.papers import register

LABELS = {"mrc": "MRC", "orc": "ORC", "pfr": "PFR", "sppfr": "SP-PFR"}  # sppfr: the Gaussian table only
COLORS = {"mrc": "#1f77b4", "orc": "#2ca02c", "pfr": "#d62728"}
METHODS = ("meankl", "meanvar")
STATE = "coding_state.pt"  # methods/mkl/family.py: the encoder's state (indices, per-block KL)
# The exact-Gaussian comparison the report runs (bench.rec_coders runs others): KL, dimensions, blocks.
GAUSSIAN = {"kl_bits": (10,), "dims": (1, 2), "blocks": 400, "pfr_extra": 2}


def bound(coder: str, kl: float) -> float:
    """Bits per block each coder claims for a block of `kl` bits (module docstring; t = 0)."""
    return pfr_code_bound(kl) if coder == "pfr" else kl


def coded_runs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per coding job: coder, budget, the per-block numbers from its coding state. A job
    paused by `coding.stop_after` (status "paused", tasks/train.py) gives a partial row over the
    blocks it coded (`partial`): bits, KL, bounds and search time per block are defined on any
    blocks; the file's bytes and the test error after coding need every block, so they are None."""
    out = []
    rows = df[df["status"].isin(("ok", "paused")) & df["method"].isin(METHODS) & df["run_dir"].notna()]
    for _, r in rows.iterrows():
        run = Path(r["run_dir"])
        cfg_path = run / ".hydra" / "config.yaml"
        if not cfg_path.exists() or not (run / STATE).exists():
            continue
        coding = OmegaConf.load(cfg_path).coding
        coder = str(coding.name)
        if coder not in LABELS:
            continue
        partial = r["status"] == "paused"
        state = torch.load(run / STATE, map_location="cpu", weights_only=False)
        idx = np.asarray(state["indices"], dtype=np.int64)
        kl = np.asarray(state["stats"]["kl_bits"], dtype=float)
        log2n = int(coding.candidates_log2 if coding.candidates_log2 is not None else coding.bits_per_block)
        if coder == "pfr":  # a partial run wrote no file: the order its blocks' indices would be written with
            order = expgolomb.best_order(idx.tolist(), log2n) if partial else int(r["golomb_order"])
            lengths = np.array([expgolomb.code_length(int(k), order) for k in idx], dtype=float)
        else:
            lengths = np.full(len(idx), float(coding.bits_per_block))
        bounds = np.array([bound(coder, k) for k in kl])
        total = math.ceil(int(r["n_coded_params"]) / int(r["block"]))
        out.append({"coder": coder, "budget": int(coding.bits_per_block), "method": r["method"],
                    "seed": r["seed"], "kl": kl.mean(), "bits": lengths.mean(), "bits_sd": lengths.std(),
                    "bound": bounds.mean(), "within": float((lengths <= bounds + 1e-9).mean()),
                    "log2k": float(np.log2(idx + 1.0).mean()), "log2k_bound": kl.mean() + LI_EL_GAMAL_LOG2K,
                    "candidates_log2": log2n, "partial": partial,
                    "bytes": None if partial else int(r["compressed_bytes"]),
                    "error_before": float(r["test_error_uncompressed"]),
                    "error_after": None if partial else float(r["test_error_compressed"]),
                    "search_s": float(state["stats"]["search_seconds"]),
                    "coding_s": None if partial else float(r["coding_seconds"]),
                    "n_blocks": len(idx), "total_blocks": total, "trained_from": r.get("trained_from")})
    return pd.DataFrame(out)


HEAD = ["C (bits)", "coder", "blocks", "KL / block", "bits / block", "bound", "≤ bound", "mean log2(k+1)",
        "E log2 K bound", "search", "bytes", "error before", "error after", "search s / block"]
DASH = "—"  # a cell that is not defined for the row (a partial run's file and error; MRC/ORC's E log2 K)


def coders_table(runs: pd.DataFrame, issues=()) -> tuple:
    """(markdown, latex) of `coded_runs`, by budget then coder."""
    rows = []
    for _, r in runs.sort_values(["budget", "coder"]).iterrows():
        part = bool(r["partial"])
        rows.append([str(r["budget"]), LABELS[r["coder"]],
                     f"{r['n_blocks']:,} of {r['total_blocks']:,}" if part else f"{r['n_blocks']:,}", f"{r['kl']:.3f}",
                     f"{r['bits']:.2f}" + (f" (sd {r['bits_sd']:.2f})" if r["coder"] == "pfr" else ""),
                     f"{r['bound']:.2f}", f"{100 * r['within']:.1f} %", f"{r['log2k']:.2f}",
                     f"{r['log2k_bound']:.2f}" if r["coder"] == "pfr" else DASH, f"2^{r['candidates_log2']}",
                     DASH if part else f"{int(r['bytes']):,}", f"{r['error_before']:.2f} %",
                     DASH if part else f"{r['error_after']:.2f} %", f"{r['search_s'] / max(r['n_blocks'], 1):.4f}"])
    caption = ("One trained Mean-KL posterior per budget C, coded by each coder. Bits / block: the file's index "
               "bits (MRC, ORC: fixed C; PFR: exp-Golomb, mean and s.d. over blocks); bound: MRC/ORC C + t with "
               "t = 0, PFR Li & El Gamal's KL + log2(KL + 1) + 4; ≤ bound: share of blocks within it; "
               "E log2 K bound: KL + 1 + log2(e)/e; error before: the posterior means, after: the network "
               "decoded from the file.")
    notes = []
    if runs["partial"].any():
        notes += ["Blocks \"n of N\": the run coded its first n blocks only (coding.stop_after) and paused. Bits, KL, "
                  "bounds and search time per block are over those n blocks (PFR: the exp-Golomb order best for "
                  "them); the file and the test error after coding need all N blocks, so they are not given (—)."]
    if issues:
        notes += [""] * bool(notes) + [f"Note: {len(issues)} failed, paused or missing job(s):",
                                        *(f"- {line}" for line in issues)]
    return tables(HEAD, rows, caption, notes)


def coders_figure(runs: pd.DataFrame, out_stem) -> list:
    """Left: bits per block against the block's KL, each coder's bound drawn (partial runs too).
    Right: test error after coding against the file's bytes, one line per coder over the budgets
    it coded whole."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    kl = np.linspace(max(runs["kl"].min() - 1, 0.5), runs["kl"].max() + 1, 100)
    a.plot(kl, kl, color="0.4", lw=1, label="MRC / ORC: KL + t bits (t = 0)")
    a.plot(kl, [pfr_code_bound(k) for k in kl], color=COLORS["pfr"], ls="--", lw=1,
           label="PFR bound: KL + log2(KL+1) + 4")
    a.plot(kl, kl + LI_EL_GAMAL_LOG2K, color=COLORS["pfr"], ls=":", lw=1, label="E log2 K ≤ KL + 1 + log2(e)/e")
    offsets = {"mrc": -0.15, "orc": 0.0, "pfr": 0.15}
    for coder, g in runs.groupby("coder"):
        x = g["kl"] + offsets[coder]
        a.errorbar(x, g["bits"], yerr=g["bits_sd"] if coder == "pfr" else None, fmt="o", color=COLORS[coder],
                   capsize=3, label=f"{LABELS[coder]}: bits / block")
        a.plot(x, g["log2k"], marker="^", ls="none", mfc="none", color=COLORS[coder],
               label=f"{LABELS[coder]}: mean log2(k+1)")
        s = g[~g["partial"].astype(bool)].sort_values("bytes")  # a partial run has no file
        b.plot(s["bytes"], s["error_after"], marker="o", color=COLORS[coder], label=LABELS[coder])
        for _, r in s.iterrows():
            b.annotate(f"C={r['budget']}", (r["bytes"], r["error_after"]), fontsize=7, xytext=(3, 3),
                       textcoords="offset points")
    before = runs[~runs["partial"].astype(bool)].groupby("budget")[["bytes", "error_before"]].min()
    b.plot(before["bytes"], before["error_before"], ls="none", marker="x", color="0.5", label="before coding (means)")
    a.set(xlabel="block KL (bits)", ylabel="bits per block", title="Bits per block against the block's KL")
    a.legend(fontsize=7)
    b.set(xscale="log", xlabel="file size (bytes)", ylabel="test error after coding (%)",
          title="Test error against file size")
    b.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def at_equal_size(runs: pd.DataFrame) -> list:
    """Test error after coding at equal file size: for every coded point of one coder, each other
    coder's error at the same bytes, interpolated linearly in log(bytes) between that coder's two
    nearest points (its budgets); None outside its range (no extrapolation). Rows: (coder, budget,
    bytes, its error, {other coder: error at those bytes or None})."""
    if "partial" in runs:  # a partial run has no file: no bytes to compare at
        runs = runs[~runs["partial"].astype(bool)]
    curves = {c: g.groupby("bytes")["error_after"].mean().sort_index() for c, g in runs.groupby("coder")}
    rows = []
    for _, r in runs.sort_values(["coder", "bytes"]).iterrows():
        others = {}
        for c, curve in curves.items():
            if c == r["coder"]:
                continue
            x, y = np.log(curve.index.to_numpy(dtype=float)), curve.to_numpy(dtype=float)
            at = math.log(r["bytes"])
            others[c] = float(np.interp(at, x, y)) if x[0] <= at <= x[-1] else None
        rows.append((r["coder"], int(r["budget"]), int(r["bytes"]), float(r["error_after"]), others))
    return rows


def equal_size_table(rows: list) -> tuple:
    """(markdown, latex) of `at_equal_size`."""
    coders = [c for c in LABELS if any(c == r[0] for r in rows)]
    head = ["coder", "C (bits)", "bytes", "its error", *(f"{LABELS[c]} at these bytes" for c in coders)]
    body = [[LABELS[c], str(b), f"{n:,}", f"{e:.2f} %",
             *(DASH if o == c else ("outside its range" if others[o] is None else f"{others[o]:.2f} %")
               for o in coders)] for c, b, n, e, others in rows]
    caption = ("Test error after coding at equal file size: each other coder's error at a point's bytes, "
               "interpolated linearly in log(bytes) between its two nearest budgets (none outside them).")
    return tables(head, body, caption)


GAUSS_HEAD = ["KL (bits)", "d", "coder", "search", "bits / block", "bound", "mean log2(k+1)", "TV marginal",
              "TV radial", "TV floor", "KL marginal (bits)", "KL radial (bits)", "KL floor (bits)", "s / block"]


def gaussian_tables(rows: list) -> tuple:
    """(markdown, latex) of `coding.gaussian_coders.table` rows."""
    def cell(r, k, digits=3):
        return f"{r[k]:.{digits}f}" if k in r else "—"
    def search(r):  # SP-PFR: its bins, and the points it scored a block on average
        if r["coder"] == "sppfr":
            return f"2^{r['candidates_log2']} bins, {r['searched']:,.0f} points"
        return f"2^{r['candidates_log2']}"
    body = [[str(r["kl_bits"]), str(r["dim"]), LABELS[r["coder"]], search(r), f"{r['bits']:.2f}",
             f"{r['bits_bound']:.2f}", f"{r['mean_log2_K']:.2f}", cell(r, "tv_marginal"), cell(r, "tv_radial"),
             cell(r, "tv_floor"), cell(r, "kl_marginal_bits", 4), cell(r, "kl_radial_bits", 4),
             cell(r, "kl_floor_bits", 4), f"{r['seconds_per_block']:.3f}"] for r in rows]
    n = rows[0]["blocks"] if rows else 0
    caption = (f"Gaussian blocks with known posterior q (mu = rho/2, KL(q||p) as given, p = N(0, rho^2 I)), {n} blocks "
               "(independent keys) per row. TV / KL: binned (10 bins of equal q-probability) law of the coded "
               "sample's first coordinate (marginal) and of its radius (radial, d > 1) against q (core.divergence); "
               f"floor: the exact expected value of the same statistic for {n} exact draws from q. Budgets "
               f"covered: KL = {', '.join(str(k) for k in sorted({r['kl_bits'] for r in rows}))} bits (the "
               "eager search of 2^20 or more candidates for 400 blocks is hours on a CPU; "
               "`python -m nncompress.bench.rec_coders --kl ...` runs others).")
    return tables(GAUSS_HEAD, body, caption)


@register("coders", "mkl", METHODS)
def write_coders(df, out: Path) -> list:
    runs = coded_runs(df)
    if runs.empty or runs["coder"].nunique() < 2:
        return []
    md, tex = coders_table(runs, problems(df, METHODS))
    written = []
    emd, etex = equal_size_table(at_equal_size(runs))
    for name, text in (("coders.md", md), ("coders.tex", tex), ("coders_equal_size.md", emd),
                       ("coders_equal_size.tex", etex)):
        (out / name).write_text(text)
        written.append(out / name)
    written += coders_figure(runs, out / "coders")
    g = GAUSSIAN
    rows = gaussian_table(g["kl_bits"], g["dims"], g["blocks"], pfr_extra=g["pfr_extra"])
    gmd, gtex = gaussian_tables(rows)
    for name, text in (("coders_gaussian.md", gmd), ("coders_gaussian.tex", gtex),
                       ("coders_gaussian.json", json.dumps(rows, indent=1))):
        (out / name).write_text(text)
        written.append(out / name)
    return written

