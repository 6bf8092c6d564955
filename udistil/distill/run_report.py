"""What a distillation run reports: the loss curve, the run record and the encoder-pass accounting across jobs."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from udistil.common.fileio import atomic_path, read_audio, read_id_table
from udistil.distill.settings import TrainConfig
from udistil.distill.teacher_targets import TeacherTargets
from udistil.models.encoder_cache import Encoder, EncoderCache, audio_hash

log = logging.getLogger(__name__)


def pipeline_passes(cache: EncoderCache | None, paths: list[str], keys: dict[int, str]) -> dict[str, float] | None:
    """Mean and max encoder passes per clip over every job that shared the cache (None without a cache);
    `keys` holds the audio hashes of the clips training drew (the others are read and hashed here)."""
    if cache is None:
        return None
    counts = cache.passes_per_clip([keys.get(i) or audio_hash(read_audio(p)) for i, p in enumerate(paths)])
    return {"mean": round(float(np.mean(counts)), 4), "max": int(max(counts))}


def write_rows(rows: list[dict], fields: list[str], path: str | Path) -> None:
    """A CSV of `rows` with the header `fields`, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def write_curve(history: list[dict], path: str | Path) -> None:
    write_rows(history, ["step", "loss", "ce", "kl", "lr"], path)


def write_validation(rows: list[dict], path: str | Path) -> None:
    """The learning curve: validation WER against optimiser steps (step 0: the untrained cut)."""
    write_rows(rows, ["step", "wer"], path)


def run_record(*, teacher: str, student_init: str, subset: str | Path, cfg: TrainConfig, skipped: list[dict],
               steps: int, resumed_from: int, seconds: float, paths: list[str], keys: dict[int, str],
               t_encoder: Encoder, s_encoder: Encoder, shared: bool, frozen: bool, targets: TeacherTargets,
               cache: EncoderCache | None, history: list[dict]) -> dict[str, Any]:
    """The run's `run.json`: inputs, settings, steps, and encoder and teacher-decoder passes per clip (`paths`: the
    training clips; `keys`: the audio hashes training computed)."""
    n_clips = len(paths)
    return {"teacher": teacher, "student_init": student_init, "subset": str(subset), "config": asdict(cfg),
            "clips": n_clips, "skipped": skipped, "steps": steps, "resumed_from": resumed_from,
            "train_seconds_this_run": round(seconds, 3),
            "encoder_shared_and_frozen": shared, "encoder_frozen": frozen,
            "teacher_encoder_passes_per_clip": round(t_encoder.passes / n_clips, 4),
            "student_encoder_passes_per_clip": round(s_encoder.passes / n_clips, 4) if not shared else None,
            "encoder_cache": str(cache.dir) if cache else None,
            "teacher_encoder_passes_per_clip_all_jobs": pipeline_passes(cache, paths, keys),
            "teacher_decoder_forwards_per_clip": round(targets.forwards / n_clips, 4),
            "teacher_targets_cache": str(targets.store.dir) if targets.store else None,
            "final_loss": history[-1]["loss"], "first_loss": history[0]["loss"]}


def training_record(*, subset: str | Path, data: pd.DataFrame, cfg: TrainConfig, applied: dict[str, Any]
                    ) -> dict[str, Any]:
    """What the model card says of the training: subset (`results/subsets/<pool>/<filter>`), its size, the
    configured settings and what they came to on this machine (`applied`: steps, device, precision, ...)."""
    seconds = read_id_table(subset, ["duration_s"], "training subset").set_index("id")["duration_s"]
    return {"pool": Path(subset).parent.name, "filter": Path(subset).stem, "clips": len(data),
            "hours": round(float(seconds.reindex(data["id"]).sum()) / 3600, 4), "steps": applied["optimiser_steps"],
            "applied": applied, "settings": {k: v for k, v in asdict(cfg).items() if k != "cache"}}


def applied_settings(*, steps: int, examples_per_step: int, device: torch.device, mixed: str, shared: bool,
                     frozen: bool, cache: EncoderCache | None, targets: TeacherTargets) -> dict[str, Any]:
    """The settings as they took effect: `auto` values resolved, precision as run on this device."""
    return {"optimiser_steps": steps, "examples_per_step": examples_per_step, "device": device.type,
            "mixed_precision": mixed,
            "encoder": "shared with the teacher, frozen" if shared else "frozen" if frozen else "trained",
            "encoder_cache": "on" if cache else "off",
            "teacher_targets": "stored and reused" if targets.store else "recomputed every step"}


def log_passes(run: dict[str, Any]) -> None:
    """Log the encoder and teacher-decoder passes per clip of a run record."""
    shared = run["encoder_shared_and_frozen"]
    log.info("encoder forward passes per clip this run: teacher %.3f%s", run["teacher_encoder_passes_per_clip"],
             " (shared with the student)" if shared else f", student {run['student_encoder_passes_per_clip']}")
    if run["teacher_encoder_passes_per_clip_all_jobs"]:
        log.info("teacher encoder forward passes per training clip over every job sharing the cache: %s",
                 run["teacher_encoder_passes_per_clip_all_jobs"])
    log.info("teacher decoder forward passes per clip this run: %.3f (%s)", run["teacher_decoder_forwards_per_clip"],
             "targets stored and reused" if run["teacher_targets_cache"] else "recomputed every step")
