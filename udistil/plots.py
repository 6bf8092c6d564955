"""Figures (matplotlib, Agg backend, fixed metadata so reruns give identical files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from udistil.io import atomic_path  # noqa: E402

SAVE_KW = {"dpi": 120, "metadata": {"Software": None}, "bbox_inches": "tight"}


def save(fig, path: str | Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", **SAVE_KW)
    plt.close(fig)


def roc_plot(curves: dict[str, tuple], aucs: dict[str, float], threshold: float, path: str | Path,
             title: str = "") -> None:
    """ROC curves of each score for detecting pseudo-labels with true WER above `threshold`."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for name, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {aucs[name]:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title=title or f"Detecting pseudo-labels with WER > {threshold:g}")
    ax.legend(fontsize=8, loc="lower right")
    save(fig, path)
