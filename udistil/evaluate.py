"""Evaluate a model on a manifest: per-utterance hypotheses and corpus-level WER/CER with costs."""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from udistil.decoding import DecodeOptions, Transcriber
from udistil.fileio import write_json, write_parquet
from udistil.manifest import read_clips, read_manifest
from udistil.metrics import cer, wer
from udistil.normalize import normalizer

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


def evaluate(*, model: str, sets: list[EvalSet], options: DecodeOptions, norm_kind: str, device: str,
             precision: str, cache: dict | None, extra: dict | None = None) -> list[dict]:
    """Load the model once and evaluate it on every set (one process per model, not per set)."""
    manifests = [_references(s.manifest) for s in sets]  # every reference is checked before the model loads
    transcriber = Transcriber(model, options, device=device, precision=precision, cache=cache)
    return [evaluate_set(transcriber, s, m, norm_kind, extra) for s, m in zip(sets, manifests, strict=True)]


@dataclass
class EvalSet:
    """One evaluation: a manifest, where its table and metrics go, and tags copied into the metrics."""

    manifest: str | Path
    table: str | Path
    metrics: str | Path
    tags: dict = field(default_factory=dict)


def _references(manifest_path: str | Path) -> pd.DataFrame:
    manifest = read_manifest(manifest_path)
    if manifest["text"].isna().any():
        missing = manifest.loc[manifest["text"].isna(), "id"].tolist()
        raise ValueError(f"{manifest_path}: evaluation needs references; no text for {missing[:10]}")
    return manifest


def evaluate_set(transcriber: Transcriber, s: EvalSet, manifest: pd.DataFrame, norm_kind: str,
                 extra: dict | None = None) -> dict:
    """Transcribe every clip of the set's manifest (read) and write the per-utterance table and metrics JSON
    (`extra`, then the set's tags, copied into the metrics)."""
    audios = read_clips(manifest["audio"], str(s.manifest))
    passes_before = transcriber.encoder_passes
    start = time.perf_counter()
    hyps = transcriber.transcribe(audios, desc=f"evaluate {Path(s.manifest).parent.name}/{Path(s.manifest).stem}")
    seconds = time.perf_counter() - start
    table, scores = score_hypotheses(manifest["text"].tolist(), [h.text for h in hyps], norm_kind)
    table.insert(0, "id", manifest["id"].values)
    audio_s = float(manifest["duration_s"].sum())
    metrics = {**scores, "n": len(manifest), "audio_seconds": round(audio_s, 3), "decode_seconds": round(seconds, 3),
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
