"""Tables as CSV, Markdown and LaTeX, written deterministically (no timestamps, fixed float format)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from udistil.io import atomic_path


def fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n", float_format="%.4f")


def to_markdown(df: pd.DataFrame, digits: int = 2, bold: pd.DataFrame | None = None) -> str:
    """A GitHub Markdown table; cells where `bold` is True are set in bold."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" if df[c].dtype == object else "---:" for c in df.columns) + "|"
    lines = [head, rule]
    for i in range(len(df)):
        cells = []
        for c in df.columns:
            text = fmt(df.iloc[i][c], digits)
            if bold is not None and c in bold.columns and bool(bold.iloc[i][c]):
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
