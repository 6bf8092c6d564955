"""The paper beside the run: published numbers per cell, and its qualitative claims checked on this run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from udistil.results.comparisons import TEST_SPLIT, Comparison, best_on, family_verdicts, selection_split
from udistil.common.fileio import write_text
from udistil.plan.grid import filter_of
from udistil.selection.filters import LABEL_FREE, NO_FILTER, STUDENT_GROUPS, SUPERVISED, TEACHER, ZERO_SHOT, paper_row
from udistil.results.intervals import OPEN, TAIL_DRAWS, Bootstrap, detectable_difference, resamples_for
from udistil.results.table_io import load_metrics, load_tables, write_csv

PAPER_DIR = Path(__file__).resolve().parents[2] / "paper"


def published_table1(path: str | Path = PAPER_DIR / "table1.csv") -> pd.DataFrame:
    return pd.read_csv(path).set_index("model")


def paper_row_name(model: str, group: str, arch: str, pool: str, filt: str, cfg: dict[str, Any]) -> str | None:
    """The Table 1 row a model reproduces: W-L-v2, DW-16-16, NoFilter DW-32-16, UDW-16-16++ proxy, ..."""
    if group == TEACHER:
        return cfg.get("teacher")
    if group == ZERO_SHOT:
        return cfg.get("zero_shot", {}).get(model)
    suffix = cfg.get("pools", {}).get(pool, "")
    return paper_row(group, arch, suffix, filt)


def published_table3(path: str | Path = PAPER_DIR / "table3.csv") -> pd.DataFrame:
    return pd.read_csv(path).set_index("model")


SIDE_BY_SIDE = ["model", "paper_row", "set", "paper_column", "published_wer", "reproduced_wer", "difference"]
TABLE1_LABELS = ("group", "size_b")


def published_only(published: pd.DataFrame, reproduced: set[str], ours: dict[str, str]) -> list[dict]:
    """Every published cell of the rows that no model of the run reproduces (no public weights, or not in the
    config): model and reproduced WER empty, `set` the run's set of that column (`ours`) where it has one."""
    rows = []
    for name in published.index:
        if name in reproduced:
            continue
        for col in published.columns:
            if col not in TABLE1_LABELS and pd.notna(published.loc[name, col]):
                rows.append({"model": "", "paper_row": name, "set": ours.get(col, ""), "paper_column": col,
                             "published_wer": float(published.loc[name, col]), "reproduced_wer": float("nan"),
                             "difference": float("nan")})
    return rows


def side_by_side(matrix: pd.DataFrame, published: pd.DataFrame, cfg: dict[str, Any]) -> pd.DataFrame:
    """Published vs reproduced WER for every cell that both have, with the difference; then the paper's rows
    that the run does not reproduce, published only (when the config maps any column to the paper's)."""
    columns = cfg.get("columns", {})
    rows, reproduced = [], set()
    for _, r in matrix.iterrows():  # the matrix shows display names (sonar*): the filter is read from the model
        name = paper_row_name(r["model"], r["group"], r["arch"], r["pool"], filter_of(r["model"]), cfg)
        if not name or name not in published.index:
            continue
        reproduced.add(name)
        for ours, theirs in columns.items():
            if ours in matrix.columns and theirs in published.columns and pd.notna(published.loc[name, theirs]):
                pub, rep = float(published.loc[name, theirs]), float(r[ours])
                rows.append({"model": r["model"], "paper_row": name, "set": ours, "paper_column": theirs,
                             "published_wer": pub, "reproduced_wer": rep, "difference": round(rep - pub, 2)})
    if columns:
        rows += published_only(published, reproduced, {theirs: mine for mine, theirs in columns.items()})
    return pd.DataFrame(rows, columns=SIDE_BY_SIDE)


def wer_by_category(metrics: dict[tuple[str, str, str], dict], models: list[str]) -> pd.DataFrame:
    """One row per model, set, split and category from the metrics' `by_category` (evaluation.categories)."""
    rows = []
    for (model, corpus, split), m in sorted(metrics.items(), key=lambda kv: (models.index(kv[0][0]), kv[0][1:])):
        for category, c in sorted(m["by_category"].items()):
            rows.append({"model": model, "set": corpus, "split": split, "category": category, "n": c["n"],
                         "wer": c["wer"], "cer": c["cer"]})
    return pd.DataFrame(rows, columns=["model", "set", "split", "category", "n", "wer", "cer"])


def side_by_side_table3(by_category: pd.DataFrame, published: pd.DataFrame, rows: list[dict],
                        cfg: dict[str, Any], category_set: str) -> pd.DataFrame:
    """The paper's Table 3 (per-category WER of `category_set`, SADA's, test split) beside the run's, through
    `paper.categories` (category value -> Table 3 column); then Table 3's rows the run does not reproduce,
    published only."""
    categories = cfg.get("categories", {})
    test = by_category[(by_category["split"] == "test") & (by_category["set"] == category_set)]
    out, reproduced = [], set()
    for r in rows:
        name = paper_row_name(r["model"], r["group"], r["arch"], r["pool"], r["filter"], cfg)
        if not name or name not in published.index:
            continue
        reproduced.add(name)
        for _, c in test[test["model"] == r["model"]].iterrows():
            theirs = categories.get(c["category"])
            if theirs in published.columns and pd.notna(published.loc[name, theirs]):
                pub, rep = float(published.loc[name, theirs]), float(c["wer"])
                out.append({"model": r["model"], "paper_row": name, "set": c["set"], "paper_column": theirs,
                            "published_wer": pub, "reproduced_wer": rep, "difference": round(rep - pub, 2)})
    out += published_only(published, reproduced, {theirs: category_set for theirs in categories.values()})
    return pd.DataFrame(out, columns=SIDE_BY_SIDE)


def run_category_tables(*, metric_paths: list[str], rows: list[dict], table3_csv: str, cfg: dict[str, Any],
                        category_set: str, out_csv: str, out_side_by_side: str) -> None:
    """wer_by_category.csv (every model, set with categories, split) and the paper's Table 3 (of
    `category_set`) beside it."""
    by_category = wer_by_category(load_metrics(metric_paths), [r["model"] for r in rows])
    write_csv(by_category, out_csv)
    write_csv(side_by_side_table3(by_category, published_table3(table3_csv), rows, cfg, category_set),
              out_side_by_side)


CLOSE = 1.0
"""WER points: "comes close to supervised filtering" and "approaches the teacher" mean `student - other < CLOSE`
on the benchmark average. The paper calls its best label-free students on par with supervised filtering where
Table 2 shows them 0.0 to 0.2 points apart (UDW-16-16 proxy 40.0 vs DW-16-16 40.0, UDW-32-16 sonar 35.5 vs
DW-32-16 35.3); one point (about 3% relative at a bench WER near 35) keeps that reading without accepting the
2.1-point gap of its 32-16++ pair as "close"."""

POWER = 0.80
"""The power at which each claim states the smallest difference it would detect (`detectable_difference`)."""

PAPER_EFFECTS = (3.1, 4.6)
"""WER points: the paper's own gains from label-free filtering on the benchmark average of the test split
(paper/table2.csv, its Table 2 "Bench test"; 100K pool): NoFilter DW-16-16 43.1 minus UDW-16-16 proxy 40.0, and
NoFilter DW-32-16 40.1 minus UDW-32-16 sonar 35.5, its best label-free student of each architecture. A claim whose
detectable difference exceeds them says that this run could not resolve an effect of the paper's size."""


def _interval(names: pd.Series, t: Comparison, pair: dict, lo: float, hi: float) -> str:
    return f"{names[t.student]} minus {names[t.other]}: difference {pair['difference']:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def _measured(names: pd.Series, tests: list[Comparison], r: dict) -> str:
    """The deciding comparison's difference, interval, its confidence and the member's Holm-adjusted p."""
    i = r["deciding"]
    p = "p < 0.001" if r["p_adjusted"] < 0.0005 else f"p = {r['p_adjusted']:.3f}"  # a bootstrap p of 0: below 2/R
    shown = f"{_interval(names, tests[i], r['pairs'][i], r['lo'], r['hi'])} ({r['confidence']:.1%} interval, Holm-adjusted {p})"
    return f"deciding comparison (of {len(tests)}) {shown}" if len(tests) > 1 else shown


def bound_words(student: str, other: str, lo: float, hi: float, confidence: float) -> str:
    """What an interval [lo, hi] of `student - other` establishes, each end a one-sided bound at
    1 - (1 - confidence) / 2: by how much the student is worse, better, or at most worse and at most better."""
    if lo >= 0:
        said = f"at least {lo:.2f} and at most {hi:.2f} points worse than {other}"
    elif hi <= 0:
        said = f"at least {-hi + 0.0:.2f} and at most {-lo:.2f} points better than {other}"
    else:
        said = f"at most {hi:.2f} points worse than {other}, and at most {-lo:.2f} points better"
    return f"Bounds (one-sided, {1 - (1 - confidence) / 2:.1%} each): {student} is {said}"


def power_words(detectable: float, se: float, level: float, several: bool) -> str:
    """The distance from the boundary at which the claim's test resolves a true difference with `POWER`, and whether it
    exceeds the paper's own effects (`PAPER_EFFECTS`)."""
    which = "its least precise comparison's SE" if several else "SE"
    text = (f"Detectable with {POWER:.0%} power: {detectable:.2f} points or more from the boundary, on either "
            f"side ({which} {se:.2f}, at the {level:.1%} level of its step)")
    low, high = min(PAPER_EFFECTS), max(PAPER_EFFECTS)
    if detectable > high:
        text += (f"; more than every gain from filtering the paper reports ({low:g} to {high:g} points), so this "
                 "run could not resolve an effect of the paper's size")
    elif detectable > low:
        text += f"; more than the paper's smaller gain from filtering ({low:g} points)"
    return text


@dataclass
class Scope:
    """The claims of one architecture and pool: each claim's text, boundary and comparisons, together one family
    (a claim on several comparisons is one member)."""

    where: str
    names: pd.Series  # model -> the name a claim prints (filter, or the model's name)
    planned: list[tuple[str, float, list[Comparison], str]] = field(default_factory=list)
    untested: list[dict] = field(default_factory=list)

    def plan(self, claim: str, boundary: float, tests: list[Comparison], note: str = "") -> None:
        self.planned.append((claim, boundary, tests, note))

    def skip(self, claim: str, boundary: float, why: str) -> None:
        self.untested.append({"claim": claim, "scope": self.where, "verdict": OPEN, "boundary": boundary,
                              "measured": why, "family": 0, "comparisons": 0, "resamples": 0, "tests": []})

    def decide(self, boot: Bootstrap, benchmark: list[str], confidence: float) -> list[dict]:
        """Each planned claim's verdict, in a Holm family of the scope's claims, on at least `resamples_for` the
        family's size resamples."""
        members = [tests for _, _, tests, _ in self.planned]
        resamples = resamples_for(confidence, len(members), at_least=boot.resamples)
        drawn = boot if resamples == boot.resamples else boot.resampled(resamples)
        results = family_verdicts(drawn, members, benchmark, TEST_SPLIT, confidence) if members else []
        out = []
        for (claim, boundary, tests, note), r in zip(self.planned, results, strict=True):
            se = max(p["se"] for p in r["pairs"])
            detectable = detectable_difference(se, r["level"], POWER)
            deciding = tests[r["deciding"]]
            shown = ". ".join([note + _measured(self.names, tests, r),
                               bound_words(self.names[deciding.student], self.names[deciding.other], r["lo"], r["hi"],
                                           r["confidence"]),
                               power_words(detectable, se, r["level"], len(tests) > 1)])
            listed = [f"{_interval(self.names, t, p, p['lo'], p['hi'])}" for t, p in zip(tests, r["pairs"],
                                                                                        strict=True)]
            out.append({"claim": claim, "scope": self.where, "verdict": r["verdict"], "boundary": boundary,
                        "measured": shown, "family": len(members), "comparisons": sum(map(len, members)),
                        "resamples": resamples, "level": r["level"], "se": se, "detectable": detectable,
                        "tests": [(t.student, t.other, t.boundary) for t in tests],
                        "listed": listed if len(tests) > 1 else []})
        return out + self.untested


def _named(g: pd.DataFrame) -> pd.Series:
    return g.set_index("model")["filter"].where(g.set_index("model")["filter"] != "", g.set_index("model").index)


def _best_claims(scope: Scope, g: pd.DataFrame, boot: Bootstrap, benchmark: list[str], choose: str | None) -> None:
    """The best label-free student, chosen on the `choose` split, against the no-filter and the supervised
    student on test."""
    lf = g.loc[g["group"] == LABEL_FREE, "model"].tolist()
    wanted = [(group, claim, boundary) for group, claim, boundary in (
        (NO_FILTER, "the best label-free filter beats no filtering", 0.0),
        (SUPERVISED, f"the best label-free filter comes within {CLOSE:g} WER point of supervised filtering, or "
                       "beats it", CLOSE)) if lf and (g["group"] == group).any()]
    if choose is None:
        for _, claim, boundary in wanted:
            scope.skip(claim, boundary, NO_SELECTION)
        return
    best = best_on(boot, lf, benchmark, choose) if lf else ""
    for group, claim, boundary in wanted:
        other = g.loc[g["group"] == group, "model"].iloc[0]
        scope.plan(claim, boundary, [Comparison(best, other, boundary)],
                   f"{scope.names[best]} chosen on bench_{choose} "
                   f"({boot.mean_point(best, benchmark, choose, 'wer'):.2f}); test: ")


def _top_two(scope: Scope, g: pd.DataFrame, boot: Bootstrap, benchmark: list[str]) -> None:
    """Whether proxy and sonar beat every other label-free filter: every such pair below 0 (no choice made)."""
    lf = g[g["group"] == LABEL_FREE]
    named = lf[lf["model"].map(filter_of).isin(["proxy", "sonar"])]
    rest = lf.drop(named.index)
    if len(named) < 2 or rest.empty:
        return
    points = {m: boot.mean_point(m, benchmark, TEST_SPLIT, "wer") for m in lf["model"]}
    order = ", ".join(f"{scope.names[m]} {v:.2f}" for m, v in sorted(points.items(), key=lambda kv: kv[1]))
    scope.plan("proxy and sonar are the two best label-free filters", 0.0,
               [Comparison(p, o, 0.0) for p in named["model"] for o in rest["model"]],
               f"test ranking {order}; ")


def _teacher_claim(scope: Scope, g: pd.DataFrame, teacher: str, boot: Bootstrap, benchmark: list[str],
                   choose: str | None) -> None:
    claim = f"the best student comes within {CLOSE:g} WER point of the teacher, or beats it"
    if choose is None:
        scope.skip(claim, CLOSE, NO_SELECTION)
        return
    best = best_on(boot, g["model"].tolist(), benchmark, choose)
    scope.plan(claim, CLOSE, [Comparison(best, teacher, CLOSE)],
               f"{scope.names[best]} chosen on bench_{choose} "
               f"({boot.mean_point(best, benchmark, choose, 'wer'):.2f}); test: ")


NO_SELECTION = ("not tested: the run evaluates no split but test, and the best filter may not be chosen on the "
                "data it is tested on (add a validation split to evaluation.splits)")


def claims(matrix: pd.DataFrame, boot: Bootstrap, benchmark: list[str], splits: list[str], confidence: float
           ) -> list[dict]:
    """The paper's accuracy claims, each decided on the benchmark average of the test split by paired bootstrap
    intervals, Holm-Bonferroni corrected over the claims of its architecture and pool (its family; a claim on
    several comparisons is one member, an intersection-union test); a "best" model is chosen on the first other
    evaluated split (udistil.results.comparisons.selection_split). Each item also carries what the power tool
    reads: its comparisons (`tests`), its step's `level`, `se` (its least precise comparison's), `detectable` and
    the family's `resamples`.

    Efficiency claims are not checked here: measured times vary between runs, so they live in the efficiency
    tables only and this file stays byte-identical across reruns."""
    out = []
    choose = selection_split(splits)
    teacher = matrix.loc[matrix["group"] == TEACHER, "model"]
    students = matrix[matrix["group"].isin(STUDENT_GROUPS)]
    for (arch, pool), g in students.groupby(["arch", "pool"], sort=False):
        names = pd.concat([_named(g), pd.Series({t: "teacher" for t in teacher})])
        scope = Scope(f"students {arch}, pool {pool}", names)
        _best_claims(scope, g, boot, benchmark, choose)
        _top_two(scope, g, boot, benchmark)
        if not teacher.empty:
            _teacher_claim(scope, g, teacher.iloc[0], boot, benchmark, choose)
        out += scope.decide(boot, benchmark, confidence)
    return out


def claims_markdown(items: list[dict], confidence: float) -> str:
    """One line per claim: verdict, claim, the claimed side of its boundary, the numbers, the bounds its interval
    establishes and the difference it would detect; under a claim on several comparisons each of them; each
    scope's family first."""
    lines = ["The paper's accuracy claims, checked on this run: each difference is a model's WER minus the other's "
             "in WER points on the benchmark average of the test split, with a paired bootstrap interval over "
             "training seeds, then utterances (or groups: speakers, voices or recordings, then their utterances, "
             "where a set names them). Each claim states a boundary: it holds when the whole interval lies on its "
             "side, does not hold when the whole interval lies on the other side, and is not resolved by this run "
             "when the interval contains the boundary. A two-sided interval at confidence c decides, so each of its "
             "ends is a one-sided bound at 1 - (1 - c) / 2; \"Bounds\" says what the deciding interval rules out. "
             f"\"Detectable\" is the difference beyond the boundary that the claim's test would find with {POWER:.0%} "
             f"power: (z at 1 - (1 - level) / 2 + z at {POWER:.2f}) x the bootstrap standard error of the difference "
             "(udistil.results.intervals.detectable_difference). A claim on several comparisons holds when all hold "
             "(one intersection-union test, all at the claim's level); it does not hold when one lies above its "
             "boundary at the claim's level divided by their number. \"Close\" means a difference below "
             f"+{CLOSE:.2f} WER points (udistil.results.paper.CLOSE). A \"best\" filter or student is chosen on "
             "another split than test, then tested on test.", ""]
    scopes = dict.fromkeys(c["scope"] for c in items)
    for where in scopes:
        mine = [c for c in items if c["scope"] == where]
        m, n = max(c["family"] for c in mine), max(c["comparisons"] for c in mine)
        resamples = max(c["resamples"] for c in mine)
        lines.append(f"**{where}**: {m} claim{'s' if m != 1 else ''} in one family ({n} comparison"
                     f"{'s' if n != 1 else ''}), corrected with Holm-Bonferroni (step-down on bootstrap p-values, "
                     f"Holm-adjusted p-values shown; family-wise error {1 - confidence:.0%}; each claim decided at "
                     f"the confidence of its step; {resamples} resamples, at least {TAIL_DRAWS} beyond each end of "
                     "the first step's interval).")
        lines.append("")
        for c in mine:
            lines.append(f"- **{c['verdict']}**: {c['claim']} (claimed: difference < {c['boundary']:+.2f}): "
                         f"{c['measured']}.")
            if c.get("listed"):
                lines.append(f"  Its {len(c['listed'])} comparisons at {c['level']:.1%}:")
                lines += [f"  - {text}" for text in c["listed"]]
        lines.append("")
    return "\n".join(lines)


def preface(description: str | None) -> str:
    """The config's `description` as a quoted paragraph that opens a table file (nothing without one)."""
    return f"> {' '.join(description.split())}\n\n" if description else ""


def run_comparison(*, matrix_csv: str, table_paths: list[str], table1_csv: str, cfg: dict[str, Any],
                   benchmark: list[str], splits: list[str], resamples: int, seed: int, confidence: float,
                   out_claims: str, out_side_by_side: str, description: str | None,
                   cells: dict[str, list[str]] | None = None, modes: dict[str, str] | None = None) -> None:
    """paper_vs_run.csv, and paper_claims.md from the evaluation tables (the result matrix job's seed, cells of
    training seeds and resample modes; each family on at least `resamples_for` its size resamples)."""
    matrix = pd.read_csv(matrix_csv, keep_default_na=False, na_values=[""])
    matrix[["arch", "pool", "filter"]] = matrix[["arch", "pool", "filter"]].fillna("")
    write_csv(side_by_side(matrix, published_table1(table1_csv), cfg), out_side_by_side)
    boot = Bootstrap(load_tables(table_paths), resamples, seed, cells={c: list(r) for c, r in (cells or {}).items()},
                     modes=dict(modes or {}))
    write_text(preface(description) + claims_markdown(claims(matrix, boot, benchmark, splits, confidence), confidence),
               out_claims)
