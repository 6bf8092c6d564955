"""Paired comparisons: each student against its no-filter and supervised baselines, the teacher, and the other
label-free students of its architecture and pool, as bootstrap intervals of the WER difference.

One row per pair, evaluation set and split, plus the benchmark average (`set` = "bench") per split. Both models
are resampled on the same draws (udistil.results.intervals.Bootstrap), so the difference is paired. Numbers stay
unrounded here and in comparisons.csv; Markdown rounds.

A claim about "the best" filter chooses it on a split other than test (`selection_split`, `best_on`) and tests
it on the test split; the claims of one architecture and pool form a family, corrected with Holm-Bonferroni, a
claim on several comparisons being one member (`family_verdicts`). Every other interval here (comparisons.csv,
the filtering effect) is exploratory: each pair at the run's confidence, not corrected."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from udistil.selection.filters import BASELINE_GROUPS, LABEL_FREE, NO_FILTER, STUDENT_GROUPS, TEACHER
from udistil.results.intervals import FAILS, HOLDS, OPEN, Bootstrap, holm_members, interval, verdict
from udistil.results.table_io import to_markdown

BENCH = "bench"
TEST_SPLIT = "test"
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
    return {HOLDS: "student better", FAILS: "student worse"}.get(v, OPEN)


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
    return pd.DataFrame(rows, columns=COLUMNS)


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
    parts = [f"Exploratory (not corrected): paired bootstrap over training seeds, then utterances (or groups: "
             f"speakers, voices or recordings, then their utterances, where a set names them), {confidence:.0%} "
             f"intervals, each pair on its own; paper_claims.md decides the claims in Holm families. WER of each "
             "student minus the other model's on the benchmark average, in WER points (negative: the student is "
             "better). \"student better\" or \"student worse\" only when the interval excludes 0. Every set, and "
             "the pairs of label-free students, are in comparisons.csv."]
    for split in dict.fromkeys(pairs["split"]):
        shown = pairs[(pairs["relation"] != LABEL_FREE) & (pairs["set"] == BENCH) & (pairs["split"] == split)]
        view = shown.assign(interval=[f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(shown["lo"], shown["hi"],
                                                                                 strict=True)])
        table = to_markdown(view[["student", "other", "relation", "difference", "interval", "verdict"]])
        parts.append(f"### Benchmark average, {split} split\n\n{table}")
    return "\n\n".join(parts) + "\n"


def selection_split(splits: list[str]) -> str | None:
    """The split a "best" model is chosen on: the first evaluated split that is not the test split (None: the
    run evaluates the test split only, and nothing may be chosen)."""
    return next((s for s in splits if s != TEST_SPLIT), None)


def best_on(boot: Bootstrap, models: list[str], sets: list[str], split: str) -> str:
    """The model of lowest WER (mean over `sets`, unrounded) on `split`; the first listed on a tie."""
    return models[int(np.argmin([boot.mean_point(m, sets, split, "wer") for m in models]))]


@dataclass(frozen=True)
class Comparison:
    """One comparison of a family: the claim `WER(student) - WER(other) < boundary`."""

    student: str
    other: str
    boundary: float


def family_verdicts(boot: Bootstrap, members: list[list[Comparison]], sets: list[str], split: str,
                    confidence: float) -> list[dict]:
    """Each member's Holm-Bonferroni adjusted verdict (udistil.results.intervals.holm_members; family-wise error
    1 - `confidence` over the members, a member of several comparisons one intersection-union test): its verdict,
    bootstrap and Holm-adjusted p-values, the confidence of its step (`level`), the deciding comparison's index,
    difference and interval (`lo`, `hi` at `confidence`), and for each comparison (`pairs`) its unrounded
    difference (mean over `sets` on `split`), its interval at `level` and the standard error of its draws."""
    draws = [[boot.mean_rates(t.student, sets, split, "wer") - boot.mean_rates(t.other, sets, split, "wer")
              for t in member] for member in members]
    adjusted = holm_members([[(d, t.boundary) for d, t in zip(ds, member, strict=True)]
                             for ds, member in zip(draws, members, strict=True)], confidence)
    out = []
    for member, ds, a in zip(members, draws, adjusted, strict=True):
        pairs = [{"difference": boot.mean_point(t.student, sets, split, "wer") - boot.mean_point(t.other, sets, split,
                                                                                              "wer"),
                  "lo": lo, "hi": hi, "se": standard_error(d)} for t, d, (lo, hi) in zip(member, ds, a.bounds,
                                                                                        strict=True)]
        out.append({"verdict": a.verdict, "p": a.p, "p_adjusted": a.p_adjusted, "level": a.level,
                    "confidence": a.confidence, "deciding": a.deciding, "difference": pairs[a.deciding]["difference"],
                    "lo": a.lo, "hi": a.hi, "pairs": pairs})
    return out


def standard_error(draws: np.ndarray) -> float:
    """The bootstrap standard error: the standard deviation of the finite draws (ddof 1)."""
    finite = draws[np.isfinite(draws)]
    return float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")


def filtering_effect(matrix: pd.DataFrame, pairs: pd.DataFrame, split: str, confidence: float,
                     choose: str | None) -> str:
    """Markdown: per architecture and pool, the no-filter student against the best filtered student (lowest
    benchmark WER of the supervised and label-free students on the `choose` split, never the reported one)
    with the paired interval of the difference on `split`. Nothing when no other split is evaluated."""
    lines = []
    bench, chosen_by = f"bench_{split}", f"bench_{choose}"
    students = matrix[matrix["group"].isin(STUDENT_GROUPS)]
    for (arch, pool), g in students.groupby(["arch", "pool"], sort=False):
        none, filtered = g[g["group"] == NO_FILTER], g[g["group"] != NO_FILTER]
        if none.empty or filtered.empty or bench not in g.columns or chosen_by not in g.columns or choose == split:
            continue
        best = filtered.loc[filtered[chosen_by].idxmin()]
        diff, lo, hi = lookup(pairs, best["model"], none["model"].iloc[0], BENCH, split)
        lines.append(f"| {arch} | {pool} | {best['model']} ({best['group']}) | {best[bench]:.2f} | "
                     f"{none[bench].iloc[0]:.2f} | {diff:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
                     f"{words(verdict(lo, hi, 0.0)).replace('student', 'filtered')} |")
    if not lines:
        return ""
    head = ("| arch | pool | best filtered student | its WER | no-filter WER | difference | verdict |\n"
            "|---|---|---|---:|---:|---|---|")
    return (f"### Filtering against no filtering, {bench} (exploratory, not corrected; paired bootstrap over "
            f"training seeds, then utterances or groups; {confidence:.0%} interval)\n\n"
            + head + "\n" + "\n".join(lines) + f"\n\nThe best filtered student is chosen by its {chosen_by} WER, "
            f"then tested on {bench}; the difference is its WER minus the no-filter student's (negative: filtering "
            "helps). The choice and this comparison are outside the claims' Holm family (paper_claims.md): an "
            "exploratory interval, not a verdict on a claim.\n")
