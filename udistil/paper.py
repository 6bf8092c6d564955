"""The paper beside the run: published numbers per cell, and its qualitative claims checked on this run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from udistil.comparisons import lookup
from udistil.intervals import FAILS, HOLDS, OPEN, verdict

PAPER_DIR = Path(__file__).resolve().parent.parent / "paper"


def published_table1(path: str | Path = PAPER_DIR / "table1.csv") -> pd.DataFrame:
    return pd.read_csv(path).set_index("model")


def paper_row_name(model: str, group: str, arch: str, pool: str, filt: str, cfg: dict[str, Any]) -> str | None:
    """The Table 1 row a model reproduces: W-L-v2, DW-16-16, NoFilter DW-32-16, UDW-16-16++ proxy, ..."""
    if group == "teacher":
        return cfg.get("teacher")
    if group == "zero-shot":
        return cfg.get("zero_shot", {}).get(model)
    suffix = cfg.get("pools", {}).get(pool, "")
    base = {"no-filter": "NoFilter DW-", "supervised": "DW-"}.get(group, "UDW-") + arch + suffix
    return base if group in ("no-filter", "supervised") else f"{base} {filt.rstrip('*')}"


def side_by_side(matrix: pd.DataFrame, published: pd.DataFrame, cfg: dict[str, Any]) -> pd.DataFrame:
    """Published vs reproduced WER for every cell that both have, with the difference."""
    columns = cfg.get("columns", {})
    rows = []
    for _, r in matrix.iterrows():
        name = paper_row_name(r["model"], r["group"], r["arch"], r["pool"], r["filter"], cfg)
        if not name or name not in published.index:
            continue
        for ours, theirs in columns.items():
            if ours in matrix.columns and theirs in published.columns and pd.notna(published.loc[name, theirs]):
                pub, rep = float(published.loc[name, theirs]), float(r[ours])
                rows.append({"model": r["model"], "paper_row": name, "set": ours, "paper_column": theirs,
                             "published_wer": pub, "reproduced_wer": rep, "difference": round(rep - pub, 2)})
    return pd.DataFrame(rows, columns=["model", "paper_row", "set", "paper_column", "published_wer",
                                       "reproduced_wer", "difference"])


CLOSE = 1.0  # WER points: "close to supervised filtering" and "approaches the teacher" mean within this margin


def _claim(claim: str, scope: str, measured: str, diff: tuple[float, float, float], boundary: float) -> dict:
    d, lo, hi = diff
    return {"claim": claim, "scope": scope, "verdict": verdict(lo, hi, boundary),
            "measured": f"{measured}: difference {d:+.2f} [{lo:+.2f}, {hi:+.2f}]"}


def _top_two(g: pd.DataFrame, pairs: pd.DataFrame, metric: str, where: str) -> dict | None:
    """Whether proxy and sonar beat every other label-free filter, from each pair's interval."""
    lf = g[g["group"] == "label-free"]
    named = lf[lf["filter"].str.rstrip("*").isin(["proxy", "sonar"])]
    rest = lf.drop(named.index)
    if len(named) < 2 or rest.empty:
        return None
    diffs = [lookup(pairs, p, o, metric) for p in named["model"] for o in rest["model"]]
    worst_hi, worst_lo = max(d[2] for d in diffs), max(d[1] for d in diffs)
    result = HOLDS if worst_hi < 0 else FAILS if worst_lo > 0 else OPEN
    ranking = lf.sort_values(metric, kind="stable")
    order = ", ".join(f"{f} {v:.2f}" for f, v in zip(ranking["filter"], ranking[metric], strict=True))
    return {"claim": "proxy and sonar are the two best label-free filters", "scope": where, "verdict": result,
            "measured": f"ranking {order}; proxy or sonar minus another filter, largest interval "
                        f"[{worst_lo:+.2f}, {worst_hi:+.2f}]"}


def claims(matrix: pd.DataFrame, pairs: pd.DataFrame, metric: str = "bench_test") -> list[dict]:
    """The paper's accuracy claims, each decided by a paired bootstrap interval on the benchmark average.

    Efficiency claims are not checked here: measured times vary between runs, so they live in the efficiency
    tables only and this file stays byte-identical across reruns."""
    out = []
    teacher = matrix.loc[matrix["group"] == "teacher", "model"]
    students = matrix[matrix["group"].isin(["no-filter", "supervised", "label-free"])]
    for (arch, pool), g in students.groupby(["arch", "pool"], sort=False):
        where = f"students {arch}, pool {pool}"
        lf = g[g["group"] == "label-free"].set_index("model")[metric]
        nofilter, supervised = g[g["group"] == "no-filter"], g[g["group"] == "supervised"]
        if not lf.empty:
            best = lf.idxmin()
            name = g.set_index("model").loc[best, "filter"]
            for base, claim, boundary in ((nofilter, "the best label-free filter beats no filtering", 0.0),
                                          (supervised, f"the best label-free filter comes within {CLOSE:g} WER "
                                                       "point of supervised filtering, or beats it", CLOSE)):
                if not base.empty:
                    other = base.iloc[0]
                    out.append(_claim(claim, where, f"{name} {lf[best]:.2f} vs {other['filter']} "
                                      f"{other[metric]:.2f} ({metric} WER)",
                                      lookup(pairs, best, other["model"], metric), boundary))
            top = _top_two(g, pairs, metric, where)
            if top:
                out.append(top)
        if not teacher.empty:
            best = g.set_index("model")[metric].idxmin()
            t = matrix.set_index("model").loc[teacher.iloc[0], metric]
            out.append(_claim(f"the best student comes within {CLOSE:g} WER point of the teacher, or beats it",
                              where, f"{best} {g.set_index('model').loc[best, metric]:.2f} vs teacher {t:.2f}",
                              lookup(pairs, best, teacher.iloc[0], metric), CLOSE))
    return out


def claims_markdown(items: list[dict], confidence: float | None = None) -> str:
    level = f"{confidence:.0%} " if confidence else ""
    lines = ["The paper's accuracy claims, checked on this run: each difference is student minus baseline in WER "
             f"points with its {level}paired bootstrap interval over utterances. A claim holds when the whole "
             "interval is on its side of the boundary, does not hold when the whole interval is on the other "
             "side, and is not resolved at this size when the interval contains the boundary.", ""]
    for c in items:
        lines.append(f"- **{c['verdict']}**: {c['claim']} ({c['scope']}): {c['measured']}.")
    return "\n".join(lines) + "\n"


def run_comparison(*, matrix_csv: str, comparisons_csv: str, table1_csv: str, cfg: dict[str, Any],
                   confidence: float, out_claims: str, out_side_by_side: str) -> None:
    from udistil.fileio import write_text
    from udistil.tables import write_csv

    matrix = pd.read_csv(matrix_csv, keep_default_na=False, na_values=[""])
    matrix[["arch", "pool", "filter"]] = matrix[["arch", "pool", "filter"]].fillna("")
    write_csv(side_by_side(matrix, published_table1(table1_csv), cfg), out_side_by_side)
    pairs = pd.read_csv(comparisons_csv)
    write_text(claims_markdown(claims(matrix, pairs), confidence), out_claims)
