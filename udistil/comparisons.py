"""Paired comparisons: each student against its no-filter and supervised baselines, the teacher, and the other
label-free students of its architecture and pool, as bootstrap intervals of the WER difference."""

from __future__ import annotations

import pandas as pd

from udistil.intervals import FAILS, HOLDS, Bootstrap, interval, verdict

STUDENT_GROUPS = ("no-filter", "supervised", "label-free")
COLUMNS = ["student", "other", "relation", "column", "difference", "lo", "hi", "verdict"]


def baselines(matrix: pd.DataFrame, row: pd.Series) -> list[tuple[str, str]]:
    """(other model, relation) pairs a student is compared with."""
    same = matrix[(matrix["arch"] == row["arch"]) & (matrix["pool"] == row["pool"]) & (matrix["model"] != row["model"])]
    out = [(m, g) for m, g in zip(same["model"], same["group"], strict=True) if g in ("no-filter", "supervised")]
    if row["group"] == "label-free":  # each pair of label-free students once
        later = same[(same["group"] == "label-free") & (same.index > row.name)]
        out += [(m, "label-free") for m in later["model"]]
    out += [(m, "teacher") for m in matrix.loc[matrix["group"] == "teacher", "model"]]
    return out


def words(v: str) -> str:
    """A verdict on `student - other < 0` in words."""
    return {HOLDS: "student better", FAILS: "student not better"}.get(v, "not resolved at this size")


def comparisons(matrix: pd.DataFrame, boot: Bootstrap, sets: list[str], benchmark: list[str],
                confidence: float) -> pd.DataFrame:
    """WER difference `student - other` (negative: the student is better) per test set and bench_test."""
    scopes = {**{s: ([s], "test") for s in sets}, "bench_test": (benchmark, "test")}
    rows = []
    for _, row in matrix[matrix["group"].isin(STUDENT_GROUPS)].iterrows():
        for other, relation in baselines(matrix, row):
            for column, (cols, split) in scopes.items():
                diff = boot.mean_rates(row["model"], cols, split, "wer") - boot.mean_rates(other, cols, split, "wer")
                lo, hi = interval(diff, confidence)
                point = float(matrix.loc[matrix["model"] == row["model"], column].iloc[0]
                              - matrix.loc[matrix["model"] == other, column].iloc[0])
                rows.append([row["model"], other, relation, column, point, lo, hi, words(verdict(lo, hi))])
    return pd.DataFrame(rows, columns=COLUMNS).round(2)


def lookup(pairs: pd.DataFrame, student: str, other: str, column: str) -> tuple[float, float, float]:
    """(difference, lo, hi) of `student - other` on a column, whichever order the pair was stored in."""
    hit = pairs[(pairs["student"] == student) & (pairs["other"] == other) & (pairs["column"] == column)]
    if not hit.empty:
        r = hit.iloc[0]
        return float(r["difference"]), float(r["lo"]), float(r["hi"])
    hit = pairs[(pairs["student"] == other) & (pairs["other"] == student) & (pairs["column"] == column)]
    if hit.empty:
        raise KeyError(f"no comparison of {student} with {other} on {column}")
    r = hit.iloc[0]
    return -float(r["difference"]), -float(r["hi"]), -float(r["lo"])


def comparisons_markdown(pairs: pd.DataFrame, confidence: float) -> str:
    from udistil.tables import to_markdown

    shown = pairs[(pairs["relation"] != "label-free") & (pairs["column"] == "bench_test")]
    view = shown.assign(interval=[f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(shown["lo"], shown["hi"], strict=True)])
    return (f"Paired bootstrap over utterances ({confidence:.0%} intervals): WER of each student minus its "
            "baseline on the benchmark average (negative: the student is better). Every set, and the pairs of "
            "label-free students, are in comparisons.csv.\n\n"
            + to_markdown(view[["student", "other", "relation", "difference", "interval", "verdict"]]) + "\n")
