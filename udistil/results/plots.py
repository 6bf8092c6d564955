"""Figures (matplotlib, Agg backend, fixed metadata so reruns give identical files)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from udistil.common.fileio import atomic_path  # noqa: E402
from udistil.selection.filters import STUDENT_GROUPS, TEACHER  # noqa: E402
from udistil.plan.grid import cell_of  # noqa: E402
from udistil.scores import display_name, read_score  # noqa: E402

SAVE_KW = {"dpi": 120, "metadata": {"Software": None}, "bbox_inches": "tight"}


def save(fig: Figure, path: str | Path) -> Figure:
    """Write `fig` as PNG (atomically) and close it; the closed figure is returned so its data can be read."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", **SAVE_KW)
    plt.close(fig)
    return fig


def roc_plot(curves: dict[str, tuple], aucs: dict[str, float], threshold: float, path: str | Path,
             title: str = "") -> Figure:
    """ROC curves of each score for detecting pseudo-labels with true WER above `threshold`."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for name, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {aucs[name]:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title=title or f"Detecting pseudo-labels with WER > {threshold:g}")
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def error_bars(row, columns: list[str]):
    """(2, n) distances from each value down to `<col>_lo` and up to `<col>_hi`; None without intervals."""
    if not all(f"{c}_lo" in row.index for c in columns):
        return None
    values = np.array([row[c] for c in columns], dtype=float)
    bars = np.array([values - [row[f"{c}_lo"] for c in columns], [row[f"{c}_hi"] for c in columns] - values])
    return np.clip(bars, 0, None)  # a percentile interval may exclude its point estimate (rounded or skewed)


def wer_by_filter(matrix, sets: list[str], path: str | Path) -> Figure:
    """Grouped bars: test WER of each student (per architecture and pool) per evaluation set, with the teacher;
    error bars show the bootstrap intervals where the matrix has them."""
    students = matrix[matrix["group"].isin(STUDENT_GROUPS)]
    groups = list(students.groupby(["arch", "pool"], sort=False))
    fig, axes = plt.subplots(len(groups) or 1, 1, figsize=(1.6 + 1.3 * len(sets) * 1.5, 3.4 * max(1, len(groups))),
                             squeeze=False)
    teacher = matrix[matrix["group"] == TEACHER]
    for ax, ((arch, pool), g) in zip(axes[:, 0], groups, strict=False):
        width = 0.8 / max(1, len(g))
        x = np.arange(len(sets))
        for i, (_, row) in enumerate(g.iterrows()):
            ax.bar(x + i * width - 0.4 + width / 2, [row[s] for s in sets], width, label=row["filter"],
                   yerr=error_bars(row, sets), error_kw={"elinewidth": 0.8, "capsize": 1.5})
        if not teacher.empty:
            for j, s in enumerate(sets):
                ax.hlines(teacher.iloc[0][s], j - 0.45, j + 0.45, colors="black", linestyles="--", linewidth=1)
        ax.set_xticks(x, sets)
        ax.set(ylabel="WER (%)", title=f"Students {arch}, pool {pool} (dashed: teacher)")
        ax.legend(fontsize=7, ncol=4)
    return save(fig, path)


def score_vs_wer(scores: dict[str, tuple], path: str | Path) -> Figure:
    """One scatter per label-free score: score against the true WER of the pseudo-label (WER clipped at 150)."""
    n = len(scores)
    cols = min(3, n) or 1
    rows = int(np.ceil(n / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False, layout="constrained")
    for ax, (name, (score, wer)) in zip(axes.flat, scores.items(), strict=False):
        ok = np.isfinite(score) & np.isfinite(wer)
        ax.scatter(np.clip(wer[ok], 0, 150), score[ok], s=6, alpha=0.5)
        ax.set(xlabel="true WER of pseudo-label (%)", ylabel=name, title=f"{name} ({(~ok).sum()} worst/absent)")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return save(fig, path)


def wer_vs_speed(points, path: str | Path) -> Figure:
    """Benchmark test WER against decode real-time factor, one point per model."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, rtf, wer in points:
        ax.scatter(rtf, wer, s=18)
        ax.annotate(name, (rtf, wer), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set(xlabel="decode real-time factor (lower is faster)", ylabel="benchmark test WER (%)",
           title="Accuracy against speed")
    return save(fig, path)


def run_plots(*, matrix_csv: str, efficiency_csv: str, truth_paths: list[str], score_paths: list[str],
              metric_paths: list[str], sets: list[str], stand_ins: dict[str, str], out_by_filter: str,
              out_score_vs_wer: str, out_speed: str) -> None:
    matrix = pd.read_csv(matrix_csv, keep_default_na=False, na_values=[""])
    wer_by_filter(matrix, sets, out_by_filter)
    scores = {}
    if truth_paths:
        truth = read_score(truth_paths[0])[0].set_index("id")["score"]
        for p in score_paths:
            name = Path(p).stem
            s = read_score(p)[0].set_index("id")["score"].reindex(truth.index)
            scores[display_name(name, stand_ins)] = (s.to_numpy(dtype=float), truth.to_numpy(dtype=float))
    score_vs_wer(scores, out_score_vs_wer)
    rtf: dict[str, list[float]] = {}
    for p in metric_paths:
        m = json.loads(Path(p).read_text())
        if m.get("split") == "test":
            rtf.setdefault(cell_of(m["model"]), []).append(m["rtf"])
    eff = {cell_of(m): r for m, r in pd.read_csv(efficiency_csv).set_index("model")["rtf"].items()}
    bench = "bench_test" if "bench_test" in matrix.columns else sets[0]
    points = [(row["model"], eff.get(row["model"], float(np.mean(rtf.get(row["model"], [np.nan])))), row[bench])
              for _, row in matrix.iterrows()]
    wer_vs_speed(points, out_speed)


def learning_curves(table, path: str | Path) -> Figure:
    """Validation WER against optimiser steps, one line per student; a marker at the weights each one kept."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, c in table.groupby("student", sort=False):
        (line,) = ax.plot(c["step"], c["wer"], marker=".", label=name.removeprefix("student-"))
        kept = c[c["kept"]]
        ax.plot(kept["step"], kept["wer"], marker="o", markersize=9, fillstyle="none", color=line.get_color())
    ax.set(xlabel="optimiser step", ylabel="validation WER (%)", title="Learning curves (circle: weights kept)")
    ax.legend(fontsize=7)
    return save(fig, path)
