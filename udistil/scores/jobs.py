"""Path-level entry points of the score rules: read inputs, compute one score, write its table.

Each entry point takes the filled config section it applies and records it, with the model's location,
in the score table's metadata (`settings`, JSON). The scores computed from text alone (proxy WER, the teacher's
statistics, supervised WER) run here; those that load a model or synthesise audio run from their own modules
(`nnll.run_nnll`, `sonar.run_sonar`, `pesq.run_pesq`) with the helpers here, so a light job imports no torch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from udistil.common.clips import Clips
from udistil.common.fileio import read_id_table
from udistil.corpora.manifest import manifest_clips, read_manifest
from udistil.labels.timestamps import strip_timestamps
from udistil.scores import SCORES, teacher_stats, write_score
from udistil.scores.proxy import proxy_score, supervised_wer
from udistil.scores.teacher import teacher_score

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("id", "pseudo_label")


def read_labels(path: str | Path, *extra: str) -> pd.DataFrame:
    """The pseudo-label table with `pseudo_label` as plain text: every score reads it without timestamp tokens."""
    df = read_id_table(path, (*LABEL_COLUMNS, *extra), "pseudo-label table")
    df["pseudo_label"] = df["pseudo_label"].map(strip_timestamps)
    return df


def require_keys(cfg: dict[str, Any], keys: Iterable[str], section: str) -> dict[str, Any]:
    """The filled config section `section`, checked for the keys this job applies."""
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise ValueError(f"{section} lacks {missing}: pass the section as validation fills it (got {dict(cfg)})")
    return dict(cfg)


def report(df: pd.DataFrame, name: str, out: str | Path, settings: dict[str, Any]) -> None:
    """Write the score table with the settings actually applied (parquet metadata `settings`, JSON) and log it."""
    write_score(df, name, out, settings=json.dumps(settings, sort_keys=True))
    failed = df["reason"].notna()
    log.info("%s: %d clips scored, %d with the worst score; keep %s; settings %s", name, len(df),
             int(failed.sum()), SCORES[name].keep, settings)
    for utt, reason in df.loc[failed, ["id", "reason"]].itertuples(index=False):
        log.info("  %s: %s", utt, reason)


def run_proxy(*, labels: str, transcripts: str, norm_kind: str, out: str) -> None:
    proxy = read_id_table(transcripts, ("id", "text"), "proxy transcript table")
    report(proxy_score(read_labels(labels), proxy, norm_kind), "proxy", out,
            {"normalizer": norm_kind, "transcripts": str(transcripts)})


def run_teacher_stat(*, labels: str, stat: str, out: str) -> None:
    if stat not in teacher_stats():
        raise ValueError(f"not a teacher statistic: {stat} (one of {teacher_stats()})")
    lab = read_labels(labels, stat, "n_tokens", "mean_logprob")
    report(teacher_score(lab, stat), stat, out, {"statistic": stat})


def run_wer(*, labels: str, manifest: str, norm_kind: str, out: str) -> None:
    report(supervised_wer(read_labels(labels), read_manifest(manifest), norm_kind), "wer", out,
            {"normalizer": norm_kind})


def pool_audio(labels: pd.DataFrame, manifest: str | Path) -> Clips:
    """The clip of each pseudo-label, in the labels' order, from the pool's manifest: unread (a score reads
    them one by one, or chunk by chunk)."""
    m = read_manifest(manifest).set_index("id")
    missing = [u for u in labels["id"] if u not in m.index]
    if missing:
        raise ValueError(f"{manifest}: no manifest row for pseudo-label ids {missing[:10]}"
                         + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""))
    return manifest_clips(m.loc[labels["id"]], str(manifest))
