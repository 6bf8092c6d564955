"""Manifests: one row per utterance, audio converted to 16 kHz mono, bad inputs listed with a reason."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from udistil.fileio import SAMPLE_RATE, read_audio, write_parquet, write_tsv, write_wav

if TYPE_CHECKING:
    from udistil.clips import Clips

log = logging.getLogger(__name__)

MAX_SECONDS = 30.0
COLUMNS = ["id", "audio", "duration_s", "text", "corpus", "split"]
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class ManifestError(ValueError):
    """Input that cannot become a manifest (missing file, duplicate ids, missing column)."""


@dataclass
class Record:
    """One input utterance before conversion: a file path or encoded bytes, or samples at 16 kHz."""

    id: str
    source: str | Path | bytes | np.ndarray
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # where it came from, for messages (file path, dataset row)


def audio_filename(utt_id: str) -> str:
    """A file name for an id: the id itself when safe, else a slug plus a short hash (no collisions)."""
    if SAFE_ID.match(utt_id):
        return f"{utt_id}.wav"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", utt_id).strip("._")[:60]
    return f"{slug}-{hashlib.sha1(utt_id.encode()).hexdigest()[:10]}.wav"


def check_records(records: list[Record], where: str) -> None:
    """Fail before any conversion on duplicate ids or missing files, naming them."""
    dupes = sorted(k for k, n in Counter(r.id for r in records).items() if n > 1)
    if dupes:
        raise ManifestError(f"{where}: duplicate ids: {', '.join(dupes[:20])}"
                            + (f" (and {len(dupes) - 20} more)" if len(dupes) > 20 else ""))
    missing = [str(r.source) for r in records if isinstance(r.source, str | Path) and not Path(r.source).exists()]
    if missing:
        raise ManifestError(f"{where}: missing audio files: {', '.join(missing[:20])}"
                            + (f" (and {len(missing) - 20} more)" if len(missing) > 20 else ""))


def load_samples(record: Record) -> np.ndarray:
    if isinstance(record.source, np.ndarray):
        return record.source.astype(np.float32)
    return read_audio(record.source if isinstance(record.source, bytes) else str(record.source))


def length_limit(*, pool: bool, long_clips: str) -> float | None:
    """The longest clip a manifest keeps: 30 s for a training pool (as distil-whisper) and for an evaluation set
    whose long clips are dropped (`evaluation.decoding.long_clips: drop`); no limit for an evaluation set that
    decodes them (`first_window`, `sequential`)."""
    return MAX_SECONDS if pool or long_clips == "drop" else None


def rejection_reason(audio: np.ndarray, max_seconds: float | None = MAX_SECONDS) -> str | None:
    if audio.size == 0:
        return "empty audio (zero samples)"
    seconds = audio.size / SAMPLE_RATE
    if max_seconds is not None and seconds > max_seconds:
        return f"longer than {max_seconds:.0f} s ({seconds:.1f} s)"
    return None


def build_manifest(*, records: Iterable[Record], corpus: str, split: str, audio_dir: str | Path,
                   manifest_path: str | Path, rejected_path: str | Path,
                   max_seconds: float | None = MAX_SECONDS) -> tuple[int, int]:
    """Convert records to 16 kHz mono WAVs under `audio_dir`; write the manifest and `rejected.tsv`.

    Clips longer than `max_seconds` (None: no limit) are rejected, as are empty and unreadable ones."""
    records = list(records)
    check_records(records, f"corpus '{corpus}' split '{split}'")
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    rows, rejected = [], []
    for rec in tqdm(records, desc=f"{corpus}/{split}", unit="clip", mininterval=5):
        try:
            audio = load_samples(rec)
        except Exception as exc:  # noqa: BLE001 - any decoder failure means unreadable
            rejected.append({"id": rec.id, "source": rec.origin or str(rec.source)[:200],
                             "reason": f"unreadable: {type(exc).__name__}: {exc}"})
            continue
        reason = rejection_reason(audio, max_seconds)
        if reason:
            rejected.append({"id": rec.id, "source": rec.origin or str(rec.source)[:200], "reason": reason})
            continue
        path = audio_dir / audio_filename(rec.id)
        write_wav(audio, path)
        rows.append({"id": rec.id, "audio": str(path), "duration_s": round(audio.size / SAMPLE_RATE, 4),
                     "text": rec.text, "corpus": corpus, "split": split, **rec.meta})
    manifest = pd.DataFrame(rows, columns=None if rows else COLUMNS)
    manifest["text"] = manifest["text"].astype("string")
    write_parquet(manifest, manifest_path)
    write_tsv(pd.DataFrame(rejected, columns=["id", "source", "reason"]), rejected_path)
    log.info("%s/%s: kept %d clips (%.1f min), rejected %d (listed in %s)", corpus, split, len(rows),
             manifest["duration_s"].sum() / 60 if rows else 0.0, len(rejected), rejected_path)
    for r in rejected:
        log.warning("rejected %s: %s", r["id"], r["reason"])
    return len(rows), len(rejected)


def read_manifest(path: str | Path) -> pd.DataFrame:
    """A manifest, checked for its columns and unique ids."""
    df = pd.read_parquet(path)
    missing = set(COLUMNS) - set(df.columns)
    if missing:
        raise ManifestError(f"{path}: not a manifest, missing columns {sorted(missing)}")
    dupes = df["id"][df["id"].duplicated()].unique().tolist()
    if dupes:
        raise ManifestError(f"{path}: duplicate ids {dupes[:10]}")
    return df


def manifest_clips(manifest: pd.DataFrame, desc: str, *, max_samples: int | None = None) -> Clips:
    """The clips of a manifest's rows, unread: a job reads them batch by batch (`udistil.clips`)."""
    from udistil.clips import Clips

    return Clips.of(manifest["audio"], manifest["duration_s"], desc, max_samples=max_samples).check()


def read_clips(paths: Iterable[str], desc: str) -> list[np.ndarray]:
    """The 16 kHz samples of each file, with progress; a missing file is named."""
    paths = list(paths)
    out = []
    for path in tqdm(paths, desc=f"read {desc}", unit="clip", mininterval=5):
        if not Path(path).exists():
            raise ManifestError(f"audio file {path} ({desc}) does not exist: rebuild its manifest")
        out.append(read_audio(path))
    return out
