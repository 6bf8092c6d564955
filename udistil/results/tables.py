"""Tables as CSV, Markdown and LaTeX, written deterministically (no timestamps, fixed float format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from udistil.results.comparisons import comparisons, comparisons_markdown, filtering_effect, selection_split
from udistil.common.fileio import write_text
from udistil.results.intervals import Bootstrap, Resampling, interval
from udistil.results.paper import preface
from udistil.plan.rows import Row, row_cells, seed_rows
from udistil.scores import display_name
from udistil.distill.stopping import Curve
from udistil.results.utterance_errors import write_error_table
from udistil.results.table_io import fmt, load_metrics, load_tables, to_markdown, write_csv

# ---- the result matrix -------------------------------------------------------------------------------------

def result_matrix(metrics: dict[tuple[str, str, str], dict], rows: list[Row], sets: list[str],
                  benchmark: list[str], splits: list[str], stand_ins: dict[str, str]) -> pd.DataFrame:
    """WER per evaluation set (test split) and benchmark means (test, validation), then the same for CER. A
    cell's value is the mean over its training seeds' evaluations (`row.runs`).

    `metrics[(model, set, split)]` is an evaluation's metrics JSON.
    """
    def rate(row: Row, corpus: str, split: str, unit: str) -> float:
        return float(np.mean([metrics[(run, corpus, split)][unit] for run in row.runs or [row.model]]))

    records = []
    for row in rows:
        rec = {"model": row.model, "group": row.group, "arch": row.arch, "pool": row.pool,
               "filter": display_name(row.filter, stand_ins)}
        for unit in ("wer", "cer"):
            suffix = "" if unit == "wer" else "_cer"
            for s in sets:
                rec[f"{s}{suffix}"] = rate(row, s, "test", unit)
            for split in splits:
                values = [rate(row, s, split, unit) for s in benchmark]
                rec[f"bench_{split}{suffix}"] = float(np.mean(values)) if values else float("nan")
        records.append(rec)
    return pd.DataFrame(records)  # unrounded: Markdown and LaTeX round, the CSV keeps 4 decimals


LABELS = ("model", "group", "arch", "pool", "filter")


def wer_columns(df: pd.DataFrame) -> list[str]:
    """The WER columns (sets, bench_*): neither labels, CER, nor interval bounds."""
    return [c for c in df.columns if c not in LABELS and not c.endswith(("_cer", "_lo", "_hi"))]


def column_scope(column: str, benchmark: list[str]) -> tuple[list[str], str, str]:
    """(sets averaged, split, metric) of a matrix column: `a` is set a's test WER, `bench_validation_cer`
    the mean CER of the benchmark sets' validation splits."""
    metric = "cer" if column.endswith("_cer") else "wer"
    name = column.removesuffix("_cer")
    if name.startswith("bench_"):
        return benchmark, name.removeprefix("bench_"), metric
    return [name], "test", metric


def add_intervals(matrix: pd.DataFrame, boot: Bootstrap, benchmark: list[str], confidence: float) -> pd.DataFrame:
    """`<column>_lo` and `<column>_hi`: the bootstrap interval of every WER and CER cell."""
    out = matrix.copy()
    columns = wer_columns(matrix) + [f"{c}_cer" for c in wer_columns(matrix)]
    for col in columns:
        sets, split, metric = column_scope(col, benchmark)
        bounds = [interval(boot.mean_rates(m, sets, split, metric), confidence) for m in matrix["model"]]
        out[f"{col}_lo"], out[f"{col}_hi"] = [b[0] for b in bounds], [b[1] for b in bounds]
    return out


def interval_cell(row: pd.Series, col: str) -> str:
    """`12.30 [10.10, 14.50]`: a cell with its bounds, or the bare value where the matrix has none."""
    if f"{col}_lo" not in row.index:
        return fmt(row[col])
    return f"{fmt(row[col])} [{fmt(row[f'{col}_lo'])}, {fmt(row[f'{col}_hi'])}]"


def with_interval(df: pd.DataFrame, col: str) -> list[str]:
    """Cells `12.30 [10.10, 14.50]` of a column with its bounds."""
    return [interval_cell(row, col) for _, row in df.iterrows()]


def best_marks(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """True where a cell holds its column's lowest error rate."""
    return pd.DataFrame({c: df[c] == df[c].min() for c in columns})


def resolved_best(df: pd.DataFrame, boot: Bootstrap, benchmark: list[str], confidence: float) -> pd.DataFrame:
    """True where a cell holds its column's lowest error rate and its paired interval (at `confidence`, over
    training seeds, then utterances or groups) against the runner-up, the column's second lowest, lies below 0:
    the cells the Markdown and LaTeX set in bold (exploratory, not corrected). A tie is never resolved."""
    columns = wer_columns(df) + [f"{c}_cer" for c in wer_columns(df)]
    marks = pd.DataFrame(False, index=df.index, columns=columns)
    for col in columns:
        ranked = df[col].dropna().sort_values(kind="stable")
        if len(ranked) < 2 or ranked.iloc[0] == ranked.iloc[1]:
            continue
        best, runner_up = df.loc[ranked.index[0], "model"], df.loc[ranked.index[1], "model"]
        sets, split, metric = column_scope(col, benchmark)
        diff = boot.mean_rates(best, sets, split, metric) - boot.mean_rates(runner_up, sets, split, metric)
        marks.loc[ranked.index[0], col] = interval(diff, confidence)[1] < 0
    return marks


BOLD_NOTE = ("Bold: a column's lowest value where its paired {confidence:.0%} interval against the runner-up (the "
             "column's second lowest) lies below 0 (exploratory, not corrected); a column with no bold has no best "
             "resolved by this run.")


def matrix_markdown(df: pd.DataFrame, stand_ins: dict[str, str], confidence: float | None = None,
                    bold: pd.DataFrame | None = None) -> str:
    """The WER and CER tables with `value [lo, hi]` cells; cells where `bold` (columns as in `df`, e.g.
    `resolved_best`) is True set in bold."""
    wer_cols = wer_columns(df)
    cer_cols = [f"{c}_cer" for c in wer_cols]
    parts = []
    for title, cols in (("WER (%)", wer_cols), ("CER (%)", cer_cols)):
        view = df[["model", "group"]].copy()
        for c in cols:
            view[c.removesuffix("_cer")] = with_interval(df, c) if f"{c}_lo" in df.columns else df[c]
        marks = None if bold is None else bold[cols].rename(columns=lambda c: c.removesuffix("_cer"))
        table = to_markdown(view, bold=marks, right=[c.removesuffix("_cer") for c in cols])
        parts.append(f"### {title}, test split; bench_* average the benchmark sets\n\n{table}")
    notes = "".join(f"\n\n\\* {name}: {what}." for name, what in stand_ins.items())
    ci = (f"[brackets]: {confidence:.0%} bootstrap interval over training seeds, then utterances (or groups: "
          "speakers, voices or recordings, then their utterances, where a set names them)." if confidence else "")
    said = BOLD_NOTE.format(confidence=confidence) if bold is not None and confidence else ""
    caption = " ".join(filter(None, (said, ci)))
    return "\n\n".join(parts + ([caption] if caption else [])) + notes + "\n"


def latex_escape(text: str) -> str:
    return str(text).replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def matrix_latex(df: pd.DataFrame, unit: str = "wer", bold: pd.DataFrame | None = None) -> str:
    """A booktabs table of WER (or CER), `value [lo, hi]` where intervals exist, cells where `bold` (columns as in
    `df`, e.g. `resolved_best`) is True in bold."""
    cols = wer_columns(df) if unit == "wer" else [f"{c}_cer" for c in wer_columns(df)]
    header = " & ".join(["Model"] + [latex_escape(c.removesuffix("_cer")) for c in cols])
    lines = [r"\begin{tabular}{l" + "r" * len(cols) + "}", r"\toprule", header + r" \\", r"\midrule"]
    previous = None
    for i, row in df.iterrows():
        if previous is not None and row["group"] != previous:
            lines.append(r"\midrule")
        previous = row["group"]
        cells = [latex_escape(row["model"])]
        for c in cols:
            text = interval_cell(row, c)
            cells.append(rf"\textbf{{{text}}}" if bold is not None and bool(bold.loc[i, c]) else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def seed_spread(per_seed: pd.DataFrame, rows: list[Row]) -> pd.DataFrame:
    """Per student cell: its number of training seeds and, for every WER column, `<column>_sd`, the standard
    deviation over its seeds (ddof 1; NaN with one seed)."""
    columns = wer_columns(per_seed)
    values = per_seed.set_index("model")
    records = []
    for row in rows:
        if not row.runs:
            continue
        rec = {"model": row.model, "arch": row.arch, "pool": row.pool, "filter": row.filter, "seeds": len(row.runs)}
        spread = values.loc[list(row.runs), columns].std(ddof=1)
        rec.update({f"{c}_sd": float(spread[c]) for c in columns})
        records.append(rec)
    return pd.DataFrame(records, columns=["model", "arch", "pool", "filter", "seeds", *(f"{c}_sd" for c in columns)])


@dataclass(frozen=True)
class MatrixSpec:
    """What the result matrix shows: its rows, the evaluation sets and splits, the benchmark average's sets, the
    scores replaced by stand-ins (starred), the run's description (the Markdown's preface) and each set's resample
    mode where it is not "groups" (the config's `evaluation.resample`)."""

    rows: list[Row]
    sets: list[str]
    benchmark: list[str]
    splits: list[str]
    stand_ins: dict[str, str]
    description: str | None = None
    resample: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MatrixFiles:
    """The files `build_matrix_outputs` writes."""

    csv: str
    md: str
    tex: str
    comparisons_csv: str
    comparisons_md: str
    seeds_csv: str
    spread_csv: str
    errors: str | None = None  # the per-utterance error table (udistil.results.utterance_errors)


def build_matrix_outputs(*, metric_paths: list[str], table_paths: list[str], spec: MatrixSpec,
                         resampling: Resampling, out: MatrixFiles) -> pd.DataFrame:
    """The result matrix (one row per cell, the mean over its training seeds) with two-level bootstrap intervals
    (seeds, then utterances) as CSV, Markdown and LaTeX (booktabs, WER then CER); the paired comparisons of every
    cell with its baselines on the same draws; the per-seed matrix (each student its own row, intervals over
    utterances) and the seed standard deviation of every cell; and, where `out.errors` names it, the per-utterance
    error table all of them are computed from."""
    rows, sets, benchmark, splits, stand_ins = spec.rows, spec.sets, spec.benchmark, spec.splits, spec.stand_ins
    confidence = resampling.confidence
    boot = Bootstrap(load_tables(table_paths), resampling.resamples, resampling.seed, cells=row_cells(rows),
                     modes=dict(spec.resample))
    metrics = load_metrics(metric_paths)
    matrix = result_matrix(metrics, rows, sets, benchmark, splits, stand_ins)
    matrix = add_intervals(matrix, boot, benchmark, confidence)
    per_seed = result_matrix(metrics, seed_rows(rows), sets, benchmark, splits, stand_ins)
    write_csv(add_intervals(per_seed, boot, benchmark, confidence), out.seeds_csv)
    write_csv(seed_spread(per_seed, rows), out.spread_csv)
    pairs = comparisons(matrix, boot, sets, benchmark, splits, confidence)
    write_csv(pairs, out.comparisons_csv, float_format=None)  # unrounded: verdicts are read from it
    write_text(comparisons_markdown(pairs, confidence), out.comparisons_md)
    write_csv(matrix, out.csv)
    if out.errors:
        write_error_table(boot, rows, sets, splits, out.errors)
    effect = filtering_effect(matrix, pairs, splits[0], confidence, selection_split(splits))
    bold = resolved_best(matrix, boot, benchmark, confidence)
    write_text(preface(spec.description) + matrix_markdown(matrix, stand_ins, confidence, bold)
               + (f"\n{effect}" if effect else ""), out.md)
    note = (f", [lo, hi]: {confidence:.0%} bootstrap interval over training seeds, then utterances (or groups); "
            + BOLD_NOTE.format(confidence=confidence) + "\n")
    write_text("% WER (%)" + note + matrix_latex(matrix, "wer", bold) + "\n% CER (%)" + note
               + matrix_latex(matrix, "cer", bold), out.tex)
    return matrix


def learning_curves(curves: dict[str, str | Path], min_delta: float = 0.0) -> pd.DataFrame:
    """Every student's validation curve (`validation.csv`) in one long table: student, step, WER and whether
    it is the step whose weights the student kept (udistil.distill.validation.Curve's best with `min_delta`)."""
    parts = []
    for name, path in curves.items():
        c = pd.read_csv(path)
        c.insert(0, "student", name)
        c["kept"] = False
        if len(c):
            best = Curve(c[["step", "wer"]].to_dict("records"), min_delta).best()
            c.loc[c["step"] == best["step"], "kept"] = True
        parts.append(c)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["student", "step", "wer", "kept"])
