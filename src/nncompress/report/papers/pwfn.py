"""Paper 002 (probabilistic weight fixing): Figures 1-4 of the appendix, a table of every job beside
the published numbers and the appendix's claims, and Algorithm 1 against the public code's round.

A recipe tags its jobs with `method.figure` (results.json `figure`): figure1 | figure2 | figure3 |
figure4 | variants. Each figure draws the jobs of its tag (any PWFN job when no job has the tag, so
a single default run still gets its Figure 1 and table). Per-round numbers come from results.json
(`rounds`) or the job's rounds.json; Figure 1 from the job's figure1.npz.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nncompress.report.common import ok_rows, problems, save_figure, tex_cell
from nncompress.report.papers import register

METHODS = ("pwfn",)
# Published figures (REFERENCE.md §3): WFN (the predecessor) on ImageNet, and PWFN's DeiT-Tiny.
PUBLISHED = [
    ("WFN", "ResNet-18", "ImageNet", 193, 4.15, 70.3),
    ("WFN", "ResNet-34", "ImageNet", 233, 3.87, 73.0),
    ("WFN", "ResNet-50", "ImageNet", 261, 4.11, 76.0),
    ("PWFN", "DeiT-Tiny", "ImageNet", 296, None, None),
]
CLAIMS = {
    "epochs": "3 epochs between rounds suffice to keep accuracy and compressibility (appendix, Figure 3)",
    "alpha": "a stronger alpha gives fewer unique values (appendix, Figure 2)",
}
ALPHA_LABELS = {0.0: "0", **{2.0**-k: f"2^-{k}" for k in range(0, 16)}}


# -- rows --------------------------------------------------------------------------------------
def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return ok_rows(df, METHODS)


def _tagged(df: pd.DataFrame, figure: str) -> pd.DataFrame:
    """The ok jobs tagged `figure`, else every ok PWFN job."""
    ok = _ok(df)
    if "figure" in ok:
        tagged = ok[ok["figure"] == figure]
        if not tagged.empty:
            return tagged
    return ok


def rounds_of(row) -> list:
    """The per-round records of one job."""
    value = row.get("rounds")
    if isinstance(value, list):
        return value
    path = Path(str(row["run_dir"])) / "rounds.json"
    return json.loads(path.read_text())["rounds"] if path.exists() else []


def _alpha_label(alpha: float) -> str:
    return ALPHA_LABELS.get(float(alpha), f"{alpha:g}")


def _num(row, key, digits=2, none="—") -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return none
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _settings(row) -> str:
    alpha = row.get("alpha")
    return (f"{row.get('fixing', '?')}, α={_alpha_label(alpha) if alpha is not None else '?'}, "
            f"{row.get('epochs_per_round', '?')} ep, γ={row.get('gamma', '?')}")


# -- claims ------------------------------------------------------------------------------------
def epochs_claim(df: pd.DataFrame) -> str | None:
    """Final error at each epochs-per-round setting; agrees when 3 epochs are within 0.1 points of the best."""
    ok = _ok(df)
    if "epochs_per_round" not in ok or ok["epochs_per_round"].nunique() < 2:
        return None
    err = ok.groupby("epochs_per_round")["test_error"].mean().sort_index()
    listing = ", ".join(f"{int(e)}: {v:.2f} %" for e, v in err.items())
    if 3 not in err.index:
        return f"{CLAIMS['epochs']}: no 3-epoch job (final error by epochs: {listing})"
    verdict = "agrees" if err[3] <= err.min() + 0.1 else "disagrees"
    return f"{CLAIMS['epochs']}: {verdict} here (final test error by epochs between rounds: {listing})"


def alpha_claim(df: pd.DataFrame) -> str | None:
    """Rank correlation of alpha with unique values (Spearman, ties averaged); agrees when negative."""
    ok = _ok(df)
    if "alpha" not in ok or ok["alpha"].nunique() < 2:
        return None
    ranks = ok[["alpha", "unique_values"]].astype(float).rank()
    rho = float(ranks["alpha"].corr(ranks["unique_values"]))
    by_alpha = ok.groupby("alpha")["unique_values"].mean().sort_index()
    listing = ", ".join(f"{_alpha_label(a)}: {v:.0f}" for a, v in by_alpha.items())
    verdict = "agrees" if rho < 0 else "disagrees"
    return f"{CLAIMS['alpha']}: {verdict} here (Spearman ρ = {rho:+.2f}; unique values by α: {listing})"


# -- table -------------------------------------------------------------------------------------
def table(df: pd.DataFrame) -> tuple[str, str]:
    """Every PWFN job (baseline and final error, unique values, entropy, file) beside the published
    numbers, and the appendix's claims as far as the sweep tests them."""
    ok = _ok(df).sort_values([c for c in ("figure", "fixing", "alpha", "epochs_per_round", "gamma") if c in df])
    head = ["Job", "Model", "Data", "Baseline err %", "PWFN err %", "Unique", "Entropy bits", "File bytes",
            "CR file", "CR entropy"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tex = [r"\begin{tabular}{lllrrrrrrr}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    for _, r in ok.iterrows():
        cells = [_settings(r), str(r.get("model")), str(r.get("dataset")), _num(r, "test_error_uncompressed"),
                 _num(r, "test_error"), _num(r, "unique_values"), _num(r, "entropy_bits", 3),
                 _num(r, "compressed_bytes"), _num(r, "ratio_file", 1), _num(r, "ratio_entropy", 1)]
        md.append("| " + " | ".join(cells) + " |")
        tex.append(" & ".join(tex_cell(c).replace("α", r"$\alpha$").replace("γ", r"$\gamma$") for c in cells)
                   + r" \\")
    md += ["", "Published (ImageNet; REFERENCE.md §3):", "",
           "| Method | Model | Data | Unique | Entropy bits | Top-1 % |", "|---|---|---|---|---|---|"]
    tex += [r"\midrule", r"\multicolumn{10}{l}{Published (ImageNet)} \\"]
    for method, model, data, unique, bits, top1 in PUBLISHED:
        cells = [method, model, data, str(unique), "—" if bits is None else f"{bits:.2f}",
                 "—" if top1 is None else f"{top1:.1f}"]
        md.append("| " + " | ".join(cells) + " |")
        tex.append(f"{method} {model} & {data} & & & & {unique} & {cells[4].replace('—', '---')} & "
                   f"top-1 {cells[5].replace('—', '---')} & & \\\\")
    claims = [c for c in (epochs_claim(_tagged(df, "figure3")), alpha_claim(_tagged(df, "figure2"))) if c]
    md += ["", "Appendix claims:", ""] + [f"- {c}" for c in claims or ["(this sweep varies neither epochs nor α)"]]
    issues = problems(df, METHODS)
    if issues:
        md += ["", "Failed or missing jobs:", *[f"- {line}" for line in issues]]
    tex += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"


def variants_table(df: pd.DataFrame) -> tuple[str, str]:
    """Algorithm 1 against the public code's round: final figures and every round's omega / delta."""
    ok = _tagged(df, "variants").sort_values("fixing")
    head = ["Variant", "Err %", "Unique", "Entropy bits", "File bytes", "CR file", "Rounds: err % after fixing",
            "Rounds: ω", "Rounds: δ", "Rounds: picks"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tex = [r"\begin{tabular}{lrrrrrllll}", r"\toprule", " & ".join(head).replace("ω", r"$\omega$")
           .replace("δ", r"$\delta$") + r" \\", r"\midrule"]
    for _, r in ok.iterrows():
        rounds = rounds_of(r)
        name = f"{r.get('fixing')}" + (" (zero_fix)" if r.get("zero_fix") else "") + (
            " (push fixed σ)" if r.get("push_fixed") and r.get("fixing") == "public" else "")
        cells = [name, _num(r, "test_error"), _num(r, "unique_values"), _num(r, "entropy_bits", 3),
                 _num(r, "compressed_bytes"), _num(r, "ratio_file", 1),
                 " ".join(f"{x['test_error_after_fixing']:.2f}" for x in rounds),
                 " ".join(str(x["omega"]) for x in rounds), " ".join(f"{x['delta']:g}" for x in rounds),
                 " ".join(str(x["picks"]) for x in rounds)]
        md.append("| " + " | ".join(cells) + " |")
        tex.append(" & ".join(tex_cell(c).replace("σ", r"$\sigma$") for c in cells) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(md) + "\n", "\n".join(tex) + "\n"


# -- figures -----------------------------------------------------------------------------------
def figure1(df: pd.DataFrame, out_stem) -> list:
    """mu against sigma of each layer's weights: at initialisation (eq. 8) and after the last round."""
    rows = [r for _, r in _tagged(df, "figure1").iterrows() if (Path(str(r["run_dir"])) / "figure1.npz").exists()]
    if not rows:
        return []
    row = rows[0]
    data = np.load(Path(str(row["run_dir"])) / "figure1.npz")
    layers = [str(x) for x in data["layers"]]
    states = [s for s in ("init", "final") if f"mu_{s}_0" in data]
    fig, axes = plt.subplots(len(states), len(layers), figsize=(3.2 * len(layers), 2.8 * len(states)), squeeze=False)
    titles = {"init": "initialisation (eq. 8)", "final": "after the last round"}
    for i, state in enumerate(states):
        for j, layer in enumerate(layers):
            ax = axes[i][j]
            mu, sigma = data[f"mu_{state}_{j}"], data[f"sigma_{state}_{j}"]
            ax.scatter(mu, np.maximum(sigma, 1e-10), s=1, alpha=0.3, rasterized=True)
            ax.set_yscale("log")
            ax.set_title(f"{layer}: {titles[state]}", fontsize=8)
            ax.set_xlabel("μ", fontsize=8)
            if j == 0:
                ax.set_ylabel("σ (floored at 1e-10)", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"PWFN μ against σ per layer ({row.get('model')}, {row.get('dataset')}; {_settings(row)})",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def _alpha_x(alpha: float, zero_at: float) -> float:
    return math.log2(alpha) if alpha > 0 else zero_at


def figure2(df: pd.DataFrame, out_stem) -> list:
    """Accuracy, unique values and entropy of the fixed network against alpha (alpha = 0 at the left)."""
    ok = _tagged(df, "figure2")
    if ok.empty or "alpha" not in ok:
        return []
    by = ok.groupby("alpha").agg(err=("test_error", "mean"), unique=("unique_values", "mean"),
                                 bits=("entropy_bits", "mean"), base=("test_error_uncompressed", "mean"))
    by = by.sort_index()
    positive = [a for a in by.index if a > 0]
    zero_at = (math.log2(min(positive)) - 1.5) if positive else 0.0
    x = [_alpha_x(a, zero_at) for a in by.index]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    panels = [(100 - by["err"], "test accuracy (%)"), (by["unique"], "unique values"), (by["bits"], "entropy (bits)")]
    for ax, (values, label) in zip(axes, panels):
        ax.plot(x, values, "o-")
        ax.set(xlabel="α", ylabel=label)
        ax.set_xticks(x, [_alpha_label(a) for a in by.index], fontsize=7, rotation=45)
        ax.grid(alpha=0.3)
    axes[0].axhline(100 - by["base"].mean(), color="grey", ls="--", lw=0.8, label="baseline")
    axes[0].legend(fontsize=7)
    fig.suptitle("PWFN: the σ push α against accuracy and compressibility (appendix Figure 2)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def figure3(df: pd.DataFrame, out_stem) -> list:
    """Final accuracy against epochs between rounds, and the accuracy after every round's fixing."""
    ok = _tagged(df, "figure3")
    if ok.empty or "epochs_per_round" not in ok:
        return []
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    by = ok.groupby("epochs_per_round")["test_error"].mean().sort_index()
    left.plot(by.index, 100 - by.values, "o-")
    left.axhline(100 - ok["test_error_uncompressed"].mean(), color="grey", ls="--", lw=0.8, label="baseline")
    left.set(xlabel="epochs between fixing rounds", ylabel="test accuracy of the fixed network (%)")
    left.set_xticks(list(by.index))
    left.legend(fontsize=7)
    for _, r in ok.sort_values("epochs_per_round").iterrows():
        rounds = rounds_of(r)
        right.plot([x["round"] for x in rounds], [100 - x["test_error_after_fixing"] for x in rounds], "o-", ms=3,
                   label=f"{r['epochs_per_round']} epochs")
    right.set(xlabel="fixing round", ylabel="test accuracy after fixing (%)")
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle("PWFN: epochs of training between fixing rounds (appendix Figure 3)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def figure4(df: pd.DataFrame, out_stem) -> list:
    """Accuracy, unique values and entropy after every round, one line per (alpha, epochs, gamma) job."""
    ok = _tagged(df, "figure4")
    if ok.empty:
        return []
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    alphas = sorted(ok["alpha"].unique()) if "alpha" in ok else [None]
    cmap = plt.get_cmap("viridis")
    styles = ["-", "--", "-.", ":"]
    epochs = sorted(ok["epochs_per_round"].unique()) if "epochs_per_round" in ok else [None]
    gammas = sorted(ok["gamma"].unique()) if "gamma" in ok else [None]
    markers = ["o", "s", "^", "v", "D"]
    for _, r in ok.iterrows():
        rounds = rounds_of(r)
        if not rounds:
            continue
        colour = cmap(alphas.index(r.get("alpha")) / max(len(alphas) - 1, 1))
        style = styles[epochs.index(r.get("epochs_per_round")) % len(styles)]
        marker = markers[gammas.index(r.get("gamma")) % len(markers)]
        t = [x["round"] for x in rounds]
        label = f"α={_alpha_label(r.get('alpha'))}, {r.get('epochs_per_round')} ep, γ={r.get('gamma')}"
        for ax, key in zip(axes, ("test_error_after_fixing", "unique_values", "entropy_bits")):
            values = [100 - x[key] if key.startswith("test_error") else x[key] for x in rounds]
            ax.plot(t, values, ls=style, marker=marker, ms=3, lw=1, color=colour, label=label)
    axes[0].set(xlabel="fixing round", ylabel="test accuracy after fixing (%)")
    axes[1].set(xlabel="fixing round", ylabel="unique values (log)", yscale="log")
    axes[2].set(xlabel="fixing round", ylabel="weight entropy (bits)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=5, ncol=2 if len(ok) > 12 else 1)
    fig.suptitle("PWFN per round over the α × epochs × γ grid (colour: α, line: epochs, marker: γ; "
                 "appendix Figure 4)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_stem)


# -- registration ------------------------------------------------------------------------------
def _write(out: Path, stem: str, md: str, tex: str) -> list:
    (out / f"{stem}.md").write_text(md)
    (out / f"{stem}.tex").write_text(tex)
    print(md)
    return [out / f"{stem}.md", out / f"{stem}.tex"]


@register("pwfn_table", "pwfn", METHODS)
def write_table(df, out: Path):
    return _write(out, "pwfn_table", *table(df))


@register("pwfn_variants", "pwfn", METHODS)
def write_variants(df, out: Path):
    ok = _ok(df)
    if "figure" not in ok or not (ok["figure"] == "variants").any():
        return []
    return _write(out, "pwfn_variants", *variants_table(df))


@register("pwfn_figure1", "pwfn", METHODS)
def write_figure1(df, out: Path):
    return figure1(df, out / "pwfn_figure1")


@register("pwfn_figure2", "pwfn", METHODS)
def write_figure2(df, out: Path):
    return figure2(df, out / "pwfn_figure2") if _has(df, "figure2") else []


@register("pwfn_figure3", "pwfn", METHODS)
def write_figure3(df, out: Path):
    return figure3(df, out / "pwfn_figure3") if _has(df, "figure3") else []


@register("pwfn_figure4", "pwfn", METHODS)
def write_figure4(df, out: Path):
    return figure4(df, out / "pwfn_figure4") if _has(df, "figure4") else []


def _has(df: pd.DataFrame, figure: str) -> bool:
    ok = _ok(df)
    return "figure" in ok and bool((ok["figure"] == figure).any())
