"""What a distillation run reports: the loss curve and the encoder-pass accounting across jobs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from udistil.encoder_cache import audio_hash
from udistil.fileio import atomic_path, read_audio


def pipeline_passes(cache, paths: list[str], keys: dict[int, str]) -> dict[str, float] | None:
    """Mean and max encoder passes per clip over every job that shared the cache (None without a cache);
    `keys` holds the audio hashes of the clips training drew (the others are read and hashed here)."""
    if cache is None:
        return None
    counts = cache.passes_per_clip([keys.get(i) or audio_hash(read_audio(p)) for i, p in enumerate(paths)])
    return {"mean": round(float(np.mean(counts)), 4), "max": int(max(counts))}


def write_curve(history: list[dict], path: str | Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["step", "loss", "ce", "kl", "lr"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
