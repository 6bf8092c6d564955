"""Selection: turn a score table into a training subset (threshold, keep fraction, or match the supervised size).

Ranking modes keep exactly k clips: best scores first, ties broken by the pool's manifest order, so the
same inputs always give the same subset. Clips with an empty pseudo-label are never kept (nothing to
learn from), not even by the `none` baseline; the statistics count them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from udistil.common.fileio import read_id_table, read_json, write_json, write_parquet
from udistil.common.normalize import normalizer
from udistil.corpora.manifest import read_manifest
from udistil.evaluate.metrics import wer
from udistil.labels.timestamps import strip_timestamps
from udistil.scores import SCORES, badness, is_empty, read_score
from udistil.selection import filters

MODES = ("all", "threshold", "fraction", "match_supervised")


@dataclass(frozen=True)
class Rule:
    mode: str
    value: float | None = None
    strict: bool = False  # threshold: keep `<` (`>`) rather than `<=` (`>=`), as the fork's supervised WER < 80

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"selection mode '{self.mode}' not in {MODES}")
        if self.mode in ("threshold", "fraction") and self.value is None:
            raise ValueError(f"selection mode '{self.mode}' needs a value")
        if self.mode == "fraction" and not 0 <= float(self.value) <= 1:
            raise ValueError(f"keep fraction {self.value} outside [0, 1]")


def keep_threshold(score: pd.Series, keep: str, threshold: float, strict: bool = False) -> pd.Series:
    """Keep scores at or below (keep low) or at or above (keep high) the threshold, strictly below or above
    when `strict`; NaN is never kept."""
    if keep == "low":
        return (score < threshold) if strict else (score <= threshold)
    return (score > threshold) if strict else (score >= threshold)


def keep_best(bad: pd.Series, k: int) -> pd.Series:
    """Keep exactly the k least-bad rows; ties broken by position (manifest order), NaN ranked last."""
    values = bad.to_numpy(dtype=float)
    order = np.lexsort((np.arange(len(values)), np.where(np.isnan(values), np.inf, values), np.isnan(values)))
    mask = np.zeros(len(values), dtype=bool)
    mask[order[:max(0, min(k, len(values)))]] = True
    return pd.Series(mask, index=bad.index)


def usable_labels(labels: pd.Series) -> pd.Series:
    """Pseudo-labels with some text once their timestamp tokens are removed."""
    return ~labels.map(strip_timestamps).map(is_empty)


def select(pool: pd.DataFrame, keep: str | None, rule: Rule, supervised_kept: int | None = None) -> pd.Series:
    """Boolean keep-mask over `pool` (columns id, pseudo_label, score) in manifest order; `keep` is the
    score's direction ("low" or "high")."""
    usable = usable_labels(pool["pseudo_label"])
    if rule.mode == "all":
        return usable
    score = pool["score"].where(usable)
    if rule.mode == "threshold":
        return keep_threshold(score, keep, float(rule.value), rule.strict) & usable
    if rule.mode == "fraction":
        k = int(math.floor(float(rule.value) * int(usable.sum()) + 0.5))
    else:
        if supervised_kept is None:
            raise ValueError("match_supervised needs the supervised subset's size")
        k = supervised_kept
    return keep_best(score if keep == "low" else -score, k) & usable


def combined_score(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Fuse scores by mean rank of badness (lower is better); each table in the same row order."""
    ranks = [badness(name, t["score"]).rank(method="average", na_option="bottom") for name, t in tables.items()]
    return sum(ranks) / len(ranks)


def subset_stats(pool: pd.DataFrame, keep: pd.Series, norm_kind: str, filter_name: str, rule: Rule) -> dict[str, Any]:
    """Kept clips and hours, and where the pool has ground truth, the true WER of what was kept and dropped."""
    kept, dropped = pool[keep], pool[~keep]
    stats: dict[str, Any] = {
        "filter": filter_name, "mode": rule.mode, "value": rule.value, "strict": rule.strict, "pool_clips": len(pool),
        "kept_clips": int(keep.sum()), "kept_fraction": round(float(keep.mean()), 6) if len(pool) else 0.0,
        "kept_hours": round(float(kept["duration_s"].sum()) / 3600, 6),
        "dropped_empty_pseudo_label": int((~usable_labels(pool["pseudo_label"])).sum()),
    }
    if "text" in pool and pool["text"].notna().all():
        norm = normalizer(norm_kind)
        for name, part in (("kept", kept), ("dropped", dropped)):
            refs = [norm(t) for t in part["text"]]
            hyps = [norm(strip_timestamps(h)) if isinstance(h, str) else "" for h in part["pseudo_label"]]
            stats[f"true_wer_{name}"] = round(wer(refs, hyps), 4) if len(part) else None
    return stats


def load_pool(labels: str, manifest: str, score_paths: list[str]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Pseudo-labels joined to the manifest (manifest order), and each score table aligned to it."""
    m = read_manifest(manifest)
    lab = read_id_table(labels, ["pseudo_label"], "pseudo-label table", covers=m["id"])[["id", "pseudo_label"]]
    pool = m[["id", "duration_s", "text"]].merge(lab, on="id", how="left", validate="one_to_one")
    scores = {}
    for path in score_paths:
        name = Path(path).stem
        if name not in SCORES:
            raise ValueError(f"{path}: a score table's file name must be a score ({sorted(SCORES)})")
        table = read_score(path, covers=m["id"])[0][["id", "score"]]
        scores[name] = pool[["id"]].merge(table, on="id", how="left", validate="one_to_one")
    return pool, scores


def run_select(*, labels: str, manifest: str, score_paths: list[str], rule: dict, filter_name: str, norm_kind: str,
               out_subset: str, out_stats: str, supervised_stats: str | None = None) -> dict[str, Any]:
    """Select one filter's subset and write it (kept ids with their scores) and its statistics."""
    if "mode" not in rule:
        raise ValueError(f"selection rule of filter '{filter_name}' has no mode: {rule}")
    pool, scores = load_pool(labels, manifest, score_paths)
    combination = filters.get(filter_name).kind == "combination"
    if not combination and len(scores) > 1:
        raise ValueError(f"filter '{filter_name}' takes one score table, got {score_paths}")
    r = Rule(rule["mode"], rule.get("value"), bool(rule.get("strict", False)))
    supervised_kept = read_json(supervised_stats)["kept_clips"] if supervised_stats else None
    if combination:
        pool["score"], keep_dir = combined_score(scores), "low"  # mean rank: lower is better
    elif scores:
        (score_name, table), = scores.items()
        pool["score"], keep_dir = table["score"].to_numpy(), SCORES[score_name].keep
    else:
        pool["score"], keep_dir = float("nan"), None
    keep = select(pool, keep_dir, r, supervised_kept)
    stats = subset_stats(pool, keep, norm_kind, filter_name, r)
    cols = ["id", "duration_s", "pseudo_label", "score"]
    write_parquet(pool.loc[keep, cols], out_subset)
    write_json(stats, out_stats)
    return stats
