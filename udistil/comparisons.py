"""Paired comparisons: each student against its no-filter and supervised baselines, the teacher, and the other
label-free students of its architecture and pool, as bootstrap intervals of the WER difference.

One row per pair, evaluation set and split, plus the benchmark average (`set` = "bench") per split. Both models
are resampled on the same draws (udistil.intervals.Bootstrap), so the difference is paired."""

from __future__ import annotations

import pandas as pd

from udistil.filters import BASELINE_GROUPS, LABEL_FREE, NO_FILTER, STUDENT_GROUPS, TEACHER
from udistil.intervals import FAILS, HOLDS, Bootstrap, interval, verdict
from udistil.table_io import to_markdown

BENCH = "bench"
COLUMNS = ["student", "other", "relation", "set", "split", "difference", "lo", "hi", "verdict"]


def baselines(matrix: pd.DataFrame, row: pd.Series) -> list[tuple[str, str]]:
    """(other model, relation) pairs a student is compared with."""
    same = matrix[(matrix["arch"] == row["arch"]) & (matrix["pool"] == row["pool"]) & (matrix["model"] != row["model"])]
    out = [(m, g) for m, g in zip(same["model"], same["group"], strict=True) if g in BASELINE_GROUPS]
    if row["group"] == LABEL_FREE:  # each pair of label-free students once
        later = same[(same["group"] == LABEL_FREE) & (same.index > row.name)]
        out += [(m, LABEL_FREE) for m in later["model"]]
    out += [(m, TEACHER) for m in matrix.loc[matrix["group"] == TEACHER, "model"]]
    return out


def words(v: str) -> str:
    """A verdict on `student - other < 0` in words."""
    return {HOLDS: "student better", FAILS: "student worse"}.get(v, "not resolved at this size")


def scopes(sets: list[str], benchmark: list[str], splits: list[str]) -> list[tuple[str, list[str], str]]:
    """(set label, sets averaged, split): every set and split, then the benchmark average per split."""
    return [(s, [s], sp) for sp in splits for s in sets] + [(BENCH, benchmark, sp) for sp in splits]


def comparisons(matrix: pd.DataFrame, boot: Bootstrap, sets: list[str], benchmark: list[str], splits: list[str],
                confidence: float) -> pd.DataFrame:
    """WER difference `student - other` (negative: the student is better) with its paired interval."""
    rows = []
    for _, row in matrix[matrix["group"].isin(STUDENT_GROUPS)].iterrows():
        for other, relation in baselines(matrix, row):
            for label, averaged, split in scopes(sets, benchmark, splits):
                diff = (boot.mean_rates(row["model"], averaged, split, "wer")
                        - boot.mean_rates(other, averaged, split, "wer"))
                point = boot.mean_point(row["model"], averaged, split, "wer") - boot.mean_point(other, averaged,
                                                                                                split, "wer")
                lo, hi = interval(diff, confidence)
                rows.append([row["model"], other, relation, label, split, point, lo, hi, words(verdict(lo, hi, 0.0))])
    return pd.DataFrame(rows, columns=COLUMNS).round(2)


def lookup(pairs: pd.DataFrame, student: str, other: str, corpus: str, split: str) -> tuple[float, float, float]:
    """(difference, lo, hi) of `student - other` on a set (or "bench") and split, whichever order was stored."""
    def find(a: str, b: str) -> pd.DataFrame:
        return pairs[(pairs["student"] == a) & (pairs["other"] == b) & (pairs["set"] == corpus)
                     & (pairs["split"] == split)]

    hit = find(student, other)
    if not hit.empty:
        r = hit.iloc[0]
        return float(r["difference"]), float(r["lo"]), float(r["hi"])
    hit = find(other, student)
    if hit.empty:
        raise KeyError(f"no comparison of {student} with {other} on {corpus}/{split}")
    r = hit.iloc[0]
    return -float(r["difference"]), -float(r["hi"]), -float(r["lo"])


def comparisons_markdown(pairs: pd.DataFrame, confidence: float) -> str:
    """The benchmark-average comparisons with the baselines and the teacher, one table per split."""
    parts = [f"Paired bootstrap over utterances ({confidence:.0%} intervals): WER of each student minus the other "
             "model's on the benchmark average, in WER points (negative: the student is better). \"student better\" "
             "or \"student worse\" only when the interval excludes 0. Every set, and the pairs of label-free "
             "students, are in comparisons.csv."]
    for split in dict.fromkeys(pairs["split"]):
        shown = pairs[(pairs["relation"] != LABEL_FREE) & (pairs["set"] == BENCH) & (pairs["split"] == split)]
        view = shown.assign(interval=[f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(shown["lo"], shown["hi"],
                                                                                 strict=True)])
        table = to_markdown(view[["student", "other", "relation", "difference", "interval", "verdict"]])
        parts.append(f"### Benchmark average, {split} split\n\n{table}")
    return "\n\n".join(parts) + "\n"


def filtering_effect(matrix: pd.DataFrame, pairs: pd.DataFrame, split: str, confidence: float) -> str:
    """Markdown: per architecture and pool, the no-filter student against the best filtered student (lowest
    benchmark WER of the supervised and label-free students) with the paired interval of the difference."""
    lines = []
    bench = f"bench_{split}"
    students = matrix[matrix["group"].isin(STUDENT_GROUPS)]
    for (arch, pool), g in students.groupby(["arch", "pool"], sort=False):
        none, filtered = g[g["group"] == NO_FILTER], g[g["group"] != NO_FILTER]
        if none.empty or filtered.empty or bench not in g.columns:
            continue
        best = filtered.loc[filtered[bench].idxmin()]
        diff, lo, hi = lookup(pairs, best["model"], none["model"].iloc[0], BENCH, split)
        lines.append(f"| {arch} | {pool} | {best['model']} ({best['group']}) | {best[bench]:.2f} | "
                     f"{none[bench].iloc[0]:.2f} | {diff:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
                     f"{words(verdict(lo, hi, 0.0)).replace('student', 'filtered')} |")
    if not lines:
        return ""
    head = ("| arch | pool | best filtered student | its WER | no-filter WER | difference | verdict |\n"
            "|---|---|---|---:|---:|---|---|")
    return (f"### Filtering against no filtering, {bench} (paired bootstrap, {confidence:.0%} interval)\n\n"
            + head + "\n" + "\n".join(lines) + "\n\nThe best filtered student is picked by its point estimate; "
            "the difference is its WER minus the no-filter student's (negative: filtering helps).\n")
