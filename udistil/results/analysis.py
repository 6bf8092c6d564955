"""How good each score is at finding bad pseudo-labels: ROC-AUC at true-WER thresholds, Spearman correlation,
and paired AUC differences between scores.

Every score of one pool is resampled on the same bootstrap draws of the pool's clips (seeded by the pool's
name), so the AUC intervals of two scores are paired and their difference has an interval of its own.
Spearman's rho is taken between the score's badness (`udistil.scores.badness`, the orientation the AUC uses:
larger means a worse pseudo-label) and the true WER, so a useful score has a positive rho and an AUC above
0.5 alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score, roc_curve

from udistil.common.fileio import write_text
from udistil.results.intervals import FAILS, HOLDS, Resampling, draw_indices, holm, interval
from udistil.evaluate.metrics import utterance_wer, wer
from udistil.common.normalize import normalizer
from udistil.results.plots import roc_plot
from udistil.scores import badness, display_name, read_score
from udistil.results.table_io import to_markdown, write_csv

log = logging.getLogger(__name__)

THRESHOLDS = (80, 40, 20)
INTERVAL_AT = 80  # the paper's threshold: its AUC gets a bootstrap interval


def pool_draws(n: int, boot: Resampling, pool: str) -> np.ndarray:
    """(resamples, n) clip indices of a pool, shared by every score of the pool."""
    return draw_indices(n, boot.resamples, boot.seed, pool)


def auc_draws(positive: np.ndarray, bad: np.ndarray, ok: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(resamples,) ROC-AUC of `bad` for `positive` on each row of the pool's draws `idx`, over the drawn clips
    the score has (`ok`); NaN where a resample holds one class only (it has no AUC)."""
    out = np.full(len(idx), np.nan)
    for r, row in enumerate(idx):
        sel = row[ok[row]]
        if 0 < positive[sel].sum() < len(sel):
            out[r] = roc_auc_score(positive[sel], bad[sel])
    return out


def auc_interval(draws: np.ndarray, confidence: float) -> dict[str, float]:
    """Percentile interval of the AUC draws; resamples holding one class only are skipped (counted)."""
    lo, hi = interval(draws, confidence)
    key = f"auc_wer>{INTERVAL_AT}"
    return {f"{key}_lo": lo, f"{key}_hi": hi, "resamples_skipped": int(np.isnan(draws).sum())}


def finite(values: pd.Series) -> np.ndarray:
    """Replace +-inf (worst scores) by values just beyond the finite range, keeping the order."""
    v = values.to_numpy(dtype=float).copy()
    fin = v[np.isfinite(v)]
    lo, hi = (fin.min(), fin.max()) if fin.size else (0.0, 0.0)
    span = (hi - lo) or 1.0
    v[v == np.inf] = hi + span
    v[v == -np.inf] = lo - span
    return v


def score_quality(name: str, score: pd.Series, true_wer: pd.Series, boot: Resampling, idx: np.ndarray
                  ) -> tuple[dict[str, float], np.ndarray]:
    """AUC of `badness` for labels with true WER > t (with an interval at the paper's threshold, on the pool's
    shared draws `idx` over the rows of `true_wer`), Spearman rho of the badness with true WER; and the AUC
    draws at the paper's threshold."""
    ok = (true_wer.notna() & score.notna()).to_numpy()
    bad = np.full(len(score), np.nan)
    bad[ok] = finite(badness(name, score[ok]))
    wer = true_wer.to_numpy(dtype=float)
    row: dict[str, float] = {"n": int(ok.sum())}
    draws = np.full(len(idx), np.nan)
    for t in THRESHOLDS:
        positive = wer > t
        p = positive[ok]
        row[f"auc_wer>{t}"] = float(roc_auc_score(p, bad[ok])) if 0 < p.sum() < len(p) else np.nan
        row[f"positives_wer>{t}"] = int(p.sum())
        if t == INTERVAL_AT:
            draws = auc_draws(positive, bad, ok, idx)
            row.update(auc_interval(draws, boot.confidence))
    row["spearman"] = float(spearmanr(bad[ok], wer[ok]).statistic) if ok.sum() > 2 else np.nan
    return row, draws


def roc_points(name: str, score: pd.Series, true_wer: pd.Series, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    ok = true_wer.notna() & score.notna()
    fpr, tpr, _ = roc_curve(true_wer[ok].to_numpy() > threshold, finite(badness(name, score[ok])))
    return fpr, tpr


def auc_table(scores: dict[str, pd.DataFrame], true_wer: pd.DataFrame, pool: str, boot: Resampling
              ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per score: AUCs at each threshold, positives, Spearman rho; tables keyed by id. And each score's
    AUC draws at the paper's threshold, all on the pool's shared draws."""
    truth = true_wer.set_index("id")["score"]
    idx = pool_draws(len(truth), boot, pool)
    rows, draws = [], {}
    for name, table in scores.items():
        s = table.set_index("id")["score"].reindex(truth.index)
        row, draws[name] = score_quality(name, s, truth, boot, idx)
        rows.append({"pool": pool, "score": name, **row})
    return pd.DataFrame(rows), draws


PAIR_COLUMNS = ["pool", "score", "other", "difference", "lo", "hi", "confidence", "verdict"]


def auc_differences(table: pd.DataFrame, draws: dict[str, np.ndarray], confidence: float) -> pd.DataFrame:
    """Paired AUC differences (score minus other, at the paper's threshold) of every pair of scores of a pool,
    Holm-Bonferroni corrected over the pool's pairs (udistil.results.intervals.holm, boundary 0)."""
    key = f"auc_wer>{INTERVAL_AT}"
    point = table.set_index("score")[key]
    pairs = list(combinations(list(draws), 2))
    adjusted = holm([(draws[a] - draws[b], 0.0) for a, b in pairs], confidence)
    words = {HOLDS: "other higher", FAILS: "score higher"}
    rows = [[table["pool"].iloc[0], a, b, float(point[a] - point[b]), r.lo, r.hi, r.confidence,
             words.get(r.verdict, r.verdict)] for (a, b), r in zip(pairs, adjusted, strict=True)]
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def run_filter_analysis(*, truth_paths: list[str], score_paths: list[str], pools: list[str], scores: list[str],
                        stand_ins: dict[str, str], resamples: int, confidence: float, seed: int, out_csv: str,
                        out_md: str, out_roc: str) -> pd.DataFrame:
    """AUC table over every labelled pool and label-free score, its Markdown, and the ROC plot (first pool)."""
    tables, differences = [], []
    curves, aucs = {}, {}
    for pool, truth_path in zip(pools, truth_paths, strict=True):
        truth = read_score(truth_path)[0]
        per_score = {Path(p).stem: read_score(p)[0] for p in score_paths if Path(p).parent.name == pool}
        per_score = {s: per_score[s] for s in scores if s in per_score}  # a pool may score fewer filters
        table, draws = auc_table(per_score, truth, pool, Resampling(resamples, confidence, seed))
        tables.append(table)
        if len(draws) > 1:
            differences.append(auc_differences(table, draws, confidence))
        if pool == pools[0]:
            t = truth.set_index("id")["score"]
            for s, df in per_score.items():
                label = display_name(s, stand_ins)
                curves[label] = roc_points(s, df.set_index("id")["score"].reindex(t.index), t, 80)
                aucs[label] = float(table.set_index("score").loc[s, "auc_wer>80"])
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    result["score"] = [display_name(s, stand_ins) for s in result["score"]]
    write_csv(result, out_csv, float_format=None)
    pairs = pd.concat(differences, ignore_index=True) if differences else pd.DataFrame(columns=PAIR_COLUMNS)
    pairs[["score", "other"]] = pairs[["score", "other"]].map(lambda s: display_name(s, stand_ins))
    notes = "".join(f"\n\n\\* `{s}`: {what}." for s, what in stand_ins.items())
    write_text("ROC-AUC of each label-free score for detecting pseudo-labels whose true WER exceeds a "
               f"threshold, and Spearman's rho between the score and the true WER. auc_wer>{INTERVAL_AT}_lo and _hi: "
               f"{confidence:.0%} percentile bootstrap interval over clips ({resamples} resamples); "
               "resamples_skipped: resamples holding one class only, which have no AUC and are left out. Every "
               "score of a pool is resampled on the same draws. spearman: rho between the score's badness (the "
               "AUC's orientation) and the true WER.\n\n"
               + to_markdown(result) + notes + "\n\n"
               f"### Paired AUC differences at WER > {INTERVAL_AT}\n\nScore minus other on the pool's shared draws, "
               "Holm-Bonferroni corrected over each pool's pairs (each interval at the confidence of its step); "
               "a verdict names the higher AUC only when the interval excludes 0.\n\n"
               + (to_markdown(pairs, digits=3) if len(pairs) else "(fewer than two scores)") + "\n", out_md)
    roc_plot(curves, aucs, 80, out_roc, title=f"Detecting pseudo-labels with WER > 80 ({pools[0]})")
    for _, row in result.iterrows():
        log.info("AUC at WER > 40: pool %s, %-8s %.3f", row["pool"], row["score"], row["auc_wer>40"])
    return result


def voice_kind(voice: str) -> str:
    """`piper:en_US-joe-medium` -> `piper en_US-joe-medium`; espeak-ng voices are grouped as `espeak-ng`."""
    return voice.replace(":", " ") if ":" in voice else "espeak-ng"


def labels_by_condition(labels: pd.DataFrame, manifest: pd.DataFrame, norm_kind: str, threshold: float
                        ) -> pd.DataFrame:
    """The teacher's pseudo-label WER (corpus level, %) per acoustic condition and voice of a synthetic pool,
    with the clip count and the share of clips whose WER exceeds `threshold` (the supervised filter's)."""
    norm = normalizer(norm_kind)
    df = labels[["id", "pseudo_label"]].merge(manifest[["id", "text", "voice", "condition"]], on="id",
                                              validate="one_to_one")
    df["ref"], df["hyp"] = df["text"].map(norm), df["pseudo_label"].fillna("").map(norm)
    df["utt_wer"] = [utterance_wer(r, h) for r, h in zip(df["ref"], df["hyp"], strict=True)]
    df["voice"] = df["voice"].map(voice_kind)
    rows = []
    groups = [("all", "all", df)] + [(c, "all", g) for c, g in df.groupby("condition", sort=True)]
    groups += [(c, v, g) for (c, v), g in df.groupby(["condition", "voice"], sort=True)]
    groups += [("all", v, g) for v, g in df.groupby("voice", sort=True)]
    for condition, voice, g in groups:
        rows.append({"condition": condition, "voice": voice, "clips": len(g),
                     "wer": round(wer(g["ref"].tolist(), g["hyp"].tolist()), 2),
                     f"share_wer>{threshold:g}": round(float((g["utt_wer"] > threshold).mean()), 4)})
    return pd.DataFrame(rows)


def conditions_markdown(table: pd.DataFrame, threshold: float) -> str:
    """Conditions down, voices across: `WER (clips)` per cell, then the share of clips over the threshold."""
    cell = table.assign(text=[f"{w:.1f} ({n})" for w, n in zip(table["wer"], table["clips"], strict=True)])
    grid = cell.pivot(index="condition", columns="voice", values="text").fillna("")
    order = ["all"] + sorted(c for c in grid.index if c != "all")
    grid = grid.loc[order, sorted(c for c in grid.columns if c != "all") + ["all"]]
    share = table[table["voice"] == "all"].set_index("condition")[f"share_wer>{threshold:g}"]
    grid[f"clips with WER > {threshold:g}"] = [f"{share[c]:.0%}" for c in grid.index]
    return grid.reset_index().to_markdown(index=False)
