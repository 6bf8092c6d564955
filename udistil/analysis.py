"""How good each score is at finding bad pseudo-labels: ROC-AUC at true-WER thresholds, Spearman correlation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score, roc_curve

from udistil.fileio import write_text
from udistil.intervals import draw_indices, interval
from udistil.metrics import utterance_wer, wer
from udistil.normalize import normalizer
from udistil.plots import roc_plot
from udistil.scores import badness, display_name
from udistil.table_io import to_markdown, write_csv

log = logging.getLogger(__name__)

THRESHOLDS = (80, 40, 20)
INTERVAL_AT = 80  # the paper's threshold: its AUC gets a bootstrap interval


@dataclass(frozen=True)
class Resampling:
    """Bootstrap settings of the AUC intervals (config `uncertainty` and `seed`)."""

    resamples: int
    confidence: float
    seed: int


def auc_interval(positive: np.ndarray, bad: np.ndarray, boot: Resampling, *names: str) -> dict[str, float]:
    """Percentile interval of the ROC-AUC over clips resampled with replacement; resamples holding one class
    only have no AUC and are skipped (counted)."""
    idx = draw_indices(len(bad), boot.resamples, boot.seed, *names)
    values = [roc_auc_score(positive[i], bad[i]) for i in idx if 0 < positive[i].sum() < len(i)]
    lo, hi = interval(np.array(values), boot.confidence)
    key = f"auc_wer>{INTERVAL_AT}"
    return {f"{key}_lo": lo, f"{key}_hi": hi, "resamples_skipped": boot.resamples - len(values)}


def finite(values: pd.Series) -> np.ndarray:
    """Replace +-inf (worst scores) by values just beyond the finite range, keeping the order."""
    v = values.to_numpy(dtype=float).copy()
    fin = v[np.isfinite(v)]
    lo, hi = (fin.min(), fin.max()) if fin.size else (0.0, 0.0)
    span = (hi - lo) or 1.0
    v[v == np.inf] = hi + span
    v[v == -np.inf] = lo - span
    return v


def score_quality(name: str, score: pd.Series, true_wer: pd.Series, boot: Resampling, pool: str
                  ) -> dict[str, float]:
    """AUC of `badness` for labels with true WER > t (with an interval at the paper's threshold), and
    Spearman rho of the raw score with true WER."""
    ok = true_wer.notna() & score.notna()
    bad = finite(badness(name, score[ok]))
    wer = true_wer[ok].to_numpy(dtype=float)
    row: dict[str, float] = {"n": int(ok.sum())}
    for t in THRESHOLDS:
        positive = wer > t
        row[f"auc_wer>{t}"] = float(roc_auc_score(positive, bad)) if 0 < positive.sum() < len(positive) else np.nan
        row[f"positives_wer>{t}"] = int(positive.sum())
        if t == INTERVAL_AT:
            row.update(auc_interval(positive, bad, boot, pool, name))
    row["spearman"] = float(spearmanr(finite(score[ok]), wer).statistic) if ok.sum() > 2 else np.nan
    return row


def roc_points(name: str, score: pd.Series, true_wer: pd.Series, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    ok = true_wer.notna() & score.notna()
    fpr, tpr, _ = roc_curve(true_wer[ok].to_numpy() > threshold, finite(badness(name, score[ok])))
    return fpr, tpr


def auc_table(scores: dict[str, pd.DataFrame], true_wer: pd.DataFrame, pool: str, boot: Resampling) -> pd.DataFrame:
    """One row per score: AUCs at each threshold, positives, Spearman rho; tables keyed by id."""
    truth = true_wer.set_index("id")["score"]
    rows = []
    for name, table in scores.items():
        s = table.set_index("id")["score"].reindex(truth.index)
        rows.append({"pool": pool, "score": name, **score_quality(name, s, truth, boot, pool)})
    return pd.DataFrame(rows)


def run_filter_analysis(*, truth_paths: list[str], score_paths: list[str], pools: list[str], scores: list[str],
                        stand_ins: dict[str, str], resamples: int, confidence: float, seed: int, out_csv: str,
                        out_md: str, out_roc: str) -> pd.DataFrame:
    """AUC table over every labelled pool and label-free score, its Markdown, and the ROC plot (first pool)."""
    tables = []
    curves, aucs = {}, {}
    for pool, truth_path in zip(pools, truth_paths, strict=True):
        truth = pd.read_parquet(truth_path)
        per_score = {Path(p).stem: pd.read_parquet(p) for p in score_paths if Path(p).parent.name == pool}
        per_score = {s: per_score[s] for s in scores if s in per_score}  # a pool may score fewer filters
        table = auc_table(per_score, truth, pool, Resampling(resamples, confidence, seed))
        tables.append(table)
        if pool == pools[0]:
            t = truth.set_index("id")["score"]
            for s, df in per_score.items():
                label = display_name(s, stand_ins)
                curves[label] = roc_points(s, df.set_index("id")["score"].reindex(t.index), t, 80)
                aucs[label] = float(table.set_index("score").loc[s, "auc_wer>80"])
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    result["score"] = [display_name(s, stand_ins) for s in result["score"]]
    result = result.round(4)
    write_csv(result, out_csv)
    notes = "".join(f"\n\n\\* `{s}`: {what}." for s, what in stand_ins.items())
    write_text("ROC-AUC of each label-free score for detecting pseudo-labels whose true WER exceeds a "
               f"threshold, and Spearman's rho between the score and the true WER. auc_wer>{INTERVAL_AT}_lo and _hi: "
               f"{confidence:.0%} percentile bootstrap interval over clips ({resamples} resamples); "
               "resamples_skipped: resamples holding one class only, which have no AUC and are left out.\n\n"
               + to_markdown(result) + notes + "\n", out_md)
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
