"""Table cells, Markdown and CSV output, and the evaluation results read back: the helpers every table, comparison
and claim module shares (leaves of the import graph: they import no table module)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from udistil.common.fileio import atomic_path, read_id_table
from udistil.results.intervals import GROUP


def fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_csv(df: pd.DataFrame, path: str | Path, float_format: str | None = "%.4f") -> None:
    """A CSV written atomically; floats with 4 decimals, or at full precision (shortest round-trip repr) with
    `float_format=None`."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n", float_format=float_format)


def to_markdown(df: pd.DataFrame, digits: int = 2, bold: pd.DataFrame | None = None,
                right: list[str] | None = None) -> str:
    """A GitHub Markdown table; cells where `bold` is True are set in bold; numbers (and `right`) right-aligned."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) or c in (right or []) else "---"
                          for c in df.columns) + "|"
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


def eval_key(path: str | Path) -> tuple[str, str, str]:
    """(model, set, split) of results/eval/{model}/{set}/{split}.json or .parquet."""
    path = Path(path)
    return path.parent.parent.name, path.parent.name, path.stem


def load_tables(paths: list[str]) -> dict[tuple[str, str, str], pd.DataFrame]:
    """Per-utterance evaluation tables keyed by (model, set, split), with the `group` column where the set's
    manifest has one (the bootstrap resamples its groups)."""
    wanted = ["id", GROUP, "reference_norm", "hypothesis_norm"]
    tables = {eval_key(p): read_id_table(p, wanted[2:], "evaluation table") for p in paths}
    return {key: t[[c for c in wanted if c in t.columns]] for key, t in tables.items()}


def load_metrics(paths: list[str]) -> dict[tuple[str, str, str], dict]:
    """Evaluation metrics keyed by (model, set, split) from results/eval/{model}/{set}/{split}.json paths."""
    return {eval_key(p): json.loads(Path(p).read_text()) for p in paths}
