"""The paper beside the run: published numbers per cell, and its qualitative claims checked on this run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

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


def claims(matrix: pd.DataFrame, metric: str = "bench_test") -> list[dict]:
    """The paper's qualitative claims about accuracy, measured on this run: each with its numbers and verdict.

    Efficiency claims are not checked here: measured times vary between runs, so they live in the efficiency
    tables only and this file stays byte-identical across reruns."""
    out = []
    students = matrix[matrix["group"].isin(["no-filter", "supervised", "label-free"])]
    for (arch, pool), g in students.groupby(["arch", "pool"], sort=False):
        where = f"students {arch}, pool {pool}"
        lf = g[g["group"] == "label-free"].set_index("filter")[metric]
        nofilter = g.loc[g["group"] == "no-filter", metric]
        supervised = g.loc[g["group"] == "supervised", metric]
        if lf.empty:
            continue
        best, best_value = lf.idxmin(), float(lf.min())
        if not nofilter.empty:
            nf = float(nofilter.iloc[0])
            out.append({"claim": "the best label-free filter beats no filtering", "scope": where,
                        "measured": f"{best} {best_value:.2f} vs no-filter {nf:.2f} ({metric} WER)",
                        "holds": bool(best_value < nf)})
        if not supervised.empty:
            sv = float(supervised.iloc[0])
            out.append({"claim": "the best label-free filter is on par with or better than supervised filtering "
                                 "(within 1 WER point)", "scope": where,
                        "measured": f"{best} {best_value:.2f} vs supervised {sv:.2f}",
                        "holds": bool(best_value <= sv + 1.0)})
        ranking = lf.sort_values(kind="stable")
        top2 = {f.rstrip("*") for f in ranking.index[:2]}
        separated = len(ranking) < 3 or ranking.iloc[1] < ranking.iloc[2]  # a tie with the third is no win
        out.append({"claim": "proxy and sonar are the two best label-free filters", "scope": where,
                    "measured": "ranking: " + ", ".join(f"{f} {v:.2f}" for f, v in ranking.items()),
                    "holds": top2 == {"proxy", "sonar"} and bool(separated)})
    return out


def claims_markdown(items: list[dict]) -> str:
    lines = ["The paper's qualitative claims, checked on this run's numbers (not asserted: measured).", ""]
    for c in items:
        lines.append(f"- **{'holds' if c['holds'] else 'does not hold'}**: {c['claim']} ({c['scope']}): "
                     f"{c['measured']}.")
    return "\n".join(lines) + "\n"


def run_comparison(*, matrix_csv: str, table1_csv: str, cfg: dict[str, Any], out_claims: str,
                   out_side_by_side: str) -> None:
    from udistil.fileio import write_text
    from udistil.tables import write_csv

    matrix = pd.read_csv(matrix_csv, keep_default_na=False, na_values=[""])
    matrix[["arch", "pool", "filter"]] = matrix[["arch", "pool", "filter"]].fillna("")
    write_csv(side_by_side(matrix, published_table1(table1_csv), cfg), out_side_by_side)
    write_text(claims_markdown(claims(matrix)), out_claims)
