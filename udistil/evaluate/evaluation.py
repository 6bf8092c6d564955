"""Evaluate a model on a manifest: per-utterance hypotheses and corpus-level WER/CER with costs.

As the authors' evaluate.py, no clip need be dropped for its length: with `long_clips: first_window` a clip
over 30 s is decoded on its first 30 s (what Whisper's feature extractor keeps) and counted as `truncated`;
with `sequential` Whisper decodes it window after window. A set with a category column also gets the WER of
each category (the paper's Table 3).
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from udistil.common.fileio import SAMPLE_RATE, write_json, write_parquet
from udistil.common.normalize import normalizer
from udistil.corpora.manifest import manifest_clips, read_manifest
from udistil.evaluate.metrics import cer, wer
from udistil.labels.decoding import WINDOW_SAMPLES, DecodeOptions, Transcriber
from udistil.results.intervals import GROUP

log = logging.getLogger(__name__)


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak resident memory of this process, and peak GPU memory when on CUDA."""
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def score_hypotheses(refs: list[str], hyps: list[str], norm_kind: str) -> tuple[pd.DataFrame, dict]:
    """Normalise both sides and compute WER and CER (x100, corpus level)."""
    norm = normalizer(norm_kind)
    nrefs, nhyps = [norm(r or "") for r in refs], [norm(h or "") for h in hyps]
    table = pd.DataFrame({"reference": refs, "hypothesis": hyps, "reference_norm": nrefs, "hypothesis_norm": nhyps})
    return table, {"wer": round(wer(nrefs, nhyps), 4), "cer": round(cer(nrefs, nhyps), 4)}


def evaluation_decoding(*, decoding: dict, evaluation: dict, language: str | None, task: str) -> dict:
    """DecodeOptions fields for evaluation: the `decoding` section with `evaluation.decoding`'s max_new_tokens
    where set, Whisper's long-form generation for `long_clips: sequential`, and no timestamps in the text
    (pseudo-labels may keep them; a hypothesis is scored on its words)."""
    out = {**decoding, "language": language, "task": task, "return_timestamps": False,
           "long_form": evaluation["long_clips"] == "sequential"}
    if evaluation["max_new_tokens"] is not None:
        out["max_new_tokens"] = evaluation["max_new_tokens"]
    return out


def evaluate(*, model: str, sets: list[EvalSet], options: DecodeOptions, norm_kind: str, device: str,
             precision: str, cache: dict | None, long_clips: str, extra: dict | None = None) -> list[dict]:
    """Load the model once and evaluate it on every set (one process per model, not per set).

    `long_clips` is `evaluation.decoding.long_clips`: `sequential` decodes clips over 30 s whole (with
    `options.long_form`), `drop` and `first_window` decode their first 30 s (a dropped clip is not in the
    manifest)."""
    manifests = [_references(s) for s in sets]  # every reference is checked before the model loads
    transcriber = Transcriber.load(model, options, device=device, precision=precision, cache=cache)
    return [evaluate_set(transcriber, s, m, norm_kind, extra, first_window=long_clips != "sequential")
            for s, m in zip(sets, manifests, strict=True)]


@dataclass
class EvalSet:
    """One evaluation: a manifest, where its table and metrics go, and tags copied into the metrics."""

    manifest: str | Path
    table: str | Path
    metrics: str | Path
    tags: dict = field(default_factory=dict)
    category: str | None = None  # a manifest column: WER per value too (`evaluation.categories`)


def _references(s: EvalSet | str | Path) -> pd.DataFrame:
    """The set's manifest, checked for references and for its category column."""
    s = s if isinstance(s, EvalSet) else EvalSet(manifest=s, table="", metrics="")
    manifest = read_manifest(s.manifest)
    if manifest["text"].isna().any():
        missing = manifest.loc[manifest["text"].isna(), "id"].tolist()
        raise ValueError(f"{s.manifest}: evaluation needs references; no text for {missing[:10]}")
    if s.category is not None and s.category not in manifest.columns:
        raise ValueError(f"{s.manifest}: no column '{s.category}' (config key 'evaluation.categories'; an hf "
                         f"corpus copies a dataset column with 'meta_columns'); columns: {list(manifest.columns)}")
    return manifest


def category_scores(table: pd.DataFrame, categories: pd.Series) -> dict[str, dict]:
    """Corpus-level WER and CER (x100) of each category's utterances, from the normalised columns of `table`;
    a missing category reads `(none)`."""
    labels = categories.astype("object").where(categories.notna(), "(none)").astype(str).to_numpy()
    out = {}
    for value in sorted(set(labels)):
        rows = table[labels == value]
        refs, hyps = rows["reference_norm"].tolist(), rows["hypothesis_norm"].tolist()
        out[value] = {"wer": round(wer(refs, hyps), 4), "cer": round(cer(refs, hyps), 4), "n": len(rows)}
    return out


def evaluate_set(transcriber: Transcriber, s: EvalSet, manifest: pd.DataFrame, norm_kind: str,
                 extra: dict | None = None, *, first_window: bool = True) -> dict:
    """Transcribe every clip of the set's manifest (read) and write the per-utterance table and metrics JSON
    (`extra`, then the set's tags, copied into the metrics).

    With `first_window`, a clip over 30 s is decoded on its first 30 s and counted in `truncated` (every model
    sees the same window; Whisper's feature extractor would cut it there anyway); without, it is decoded whole
    (Whisper's long-form generation). `long_clips` counts the clips over 30 s either way."""
    audios = manifest_clips(manifest, str(s.manifest), max_samples=WINDOW_SAMPLES if first_window else None)
    long = int((manifest["duration_s"] > WINDOW_SAMPLES / SAMPLE_RATE).sum())  # duration_s: 4 decimals, exact here
    passes_before = transcriber.encoder_passes
    start = time.perf_counter()
    hyps = transcriber.transcribe(audios, desc=f"evaluate {Path(s.manifest).parent.name}/{Path(s.manifest).stem}")
    seconds = time.perf_counter() - start
    table, scores = score_hypotheses(manifest["text"].tolist(), [h.text for h in hyps], norm_kind)
    table.insert(0, "id", manifest["id"].values)
    if GROUP in manifest.columns:  # the speaker or recording: the bootstrap resamples these groups
        table.insert(1, GROUP, manifest[GROUP].astype(str).values)
    if s.category is not None:
        table.insert(1, "category", manifest[s.category].values)
        scores["by_category"] = category_scores(table, manifest[s.category])
    audio_s = float(manifest["duration_s"].sum())
    metrics = {**scores, "n": len(manifest), "long_clips": long, "truncated": long if first_window else 0,
               "audio_seconds": round(audio_s, 3), "decode_seconds": round(seconds, 3),
               "rtf": round(seconds / audio_s, 5) if audio_s else None,
               "encoder_passes": transcriber.encoder_passes - passes_before,
               "params": sum(p.numel() for p in transcriber.model.parameters()),
               **{k: round(v, 1) for k, v in peak_memory_mb(transcriber.device).items()},
               "device": transcriber.device.type, **(extra or {}), **s.tags}
    write_parquet(table, s.table)
    write_json(metrics, s.metrics)
    log.info("%s: WER %.2f CER %.2f (n=%d, RTF %.3f, encoder passes %d)", s.manifest, metrics["wer"],
             metrics["cer"], metrics["n"], metrics["rtf"] or 0, metrics["encoder_passes"])
    return metrics
