"""Label-free quality scores of pseudo-labels (and the supervised WER baseline), one module per score.

Each score writes a parquet with `id`, `score`, `reason` (why a clip got the worst score, else null) and
auxiliary columns; its direction says which end is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from udistil.common.fileio import parquet_metadata, read_id_table, write_parquet


@dataclass(frozen=True)
class ScoreInfo:
    name: str
    keep: str  # "low" or "high"
    description: str
    label_free: bool = True
    from_pseudo_labels: bool = False  # read from the pseudo-labelling pass: needs no model or `scores.X` config


SCORES = {
    "proxy": ScoreInfo("proxy", "low", "WER of the pseudo-label against a proxy ASR transcript"),
    "sonar": ScoreInfo("sonar", "high", "cosine similarity of SONAR speech and text embeddings"),
    "conf": ScoreInfo("conf", "high", "teacher confidence: mean token probability", from_pseudo_labels=True),
    "entropy": ScoreInfo("entropy", "low", "teacher predictive entropy, mean over tokens", from_pseudo_labels=True),
    "nnll": ScoreInfo("nnll", "low", "mean per-token negative log-likelihood under a language model"),
    "pesq": ScoreInfo("pesq", "high", "wide-band PESQ of the clip against TTS of the pseudo-label"),
    "wer": ScoreInfo("wer", "low", "WER of the pseudo-label against the ground truth", label_free=False),
}
"""The score registry: adding a label-free score here (and the code that computes it) adds the filter of the same
name (udistil.selection.filters). The lists below are read from it when asked, never copied."""


def label_free() -> list[str]:
    return [s for s, info in SCORES.items() if info.label_free]


def teacher_stats() -> list[str]:
    """Scores read from the pseudo-labelling pass (a column of the pseudo-label table of the same name)."""
    return [s for s, info in SCORES.items() if info.from_pseudo_labels]


def configured() -> list[str]:
    """Label-free scores computed by a job of their own, which need a `scores.<name>` config section."""
    return [s for s in label_free() if not SCORES[s].from_pseudo_labels]


def display_name(name: str, stand_ins: dict[str, str]) -> str:
    """A score or filter name as tables and plots show it: starred when an offline stand-in replaced it."""
    return f"{name}*" if name in stand_ins else name


def worst(name: str) -> float:
    """The value given to a clip whose score cannot be computed (empty pseudo-label, failed measurement)."""
    return math.inf if SCORES[name].keep == "low" else -math.inf


def badness(name: str, values: pd.Series) -> pd.Series:
    """Scores oriented so that larger means worse (for ranking and ROC), infinities kept in order."""
    return values if SCORES[name].keep == "low" else -values


def is_empty(text: object) -> bool:
    return not isinstance(text, str) or not text.strip()


def write_score(df: pd.DataFrame, name: str, path: str | Path, **meta: str) -> None:
    """Write a score table with its direction and provenance in the parquet metadata."""
    missing = {"id", "score", "reason"} - set(df.columns)
    if missing:
        raise ValueError(f"score table {name} lacks columns {sorted(missing)}")
    write_parquet(df, path, metadata={"score": name, "keep": SCORES[name].keep, **meta})


def read_score(path: str | Path, covers: pd.Series | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """A score table, named by its file (`proxy.parquet`: the proxy score), checked for its `score` column, unique
    ids and, with `covers`, a row for each of those (manifest) ids; and its metadata (`write_score`'s)."""
    name = Path(path).stem
    return read_id_table(path, ("score",), f"score table '{name}'", covers=covers), parquet_metadata(path)
