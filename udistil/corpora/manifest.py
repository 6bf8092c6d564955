"""Manifests: one row per utterance, audio converted to 16 kHz mono, bad inputs listed with a reason."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from udistil.common.clips import Clips, ordered_map, read_clip
from udistil.common.errors import ManifestError
from udistil.common.fileio import SAMPLE_RATE, read_audio, read_id_table, write_parquet, write_tsv, write_wav

log = logging.getLogger(__name__)

MAX_SECONDS = 30.0
COLUMNS = ["id", "audio", "duration_s", "text", "corpus", "split"]
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")


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
    return length_reason(audio.size, max_seconds)


def length_reason(samples: int, max_seconds: float | None = MAX_SECONDS) -> str | None:
    """Why a clip of `samples` samples at 16 kHz is rejected (empty, too long), or None."""
    if samples == 0:
        return "empty audio (zero samples)"
    seconds = samples / SAMPLE_RATE
    if max_seconds is not None and seconds > max_seconds:
        return f"longer than {max_seconds:.0f} s ({seconds:.1f} s)"
    return None


def build_manifest(*, records: Iterable[Record], corpus: str, split: str, audio_dir: str | Path,
                   manifest_path: str | Path, rejected_path: str | Path, max_seconds: float | None = MAX_SECONDS,
                   link_audio: bool = False, workers: int = 1) -> tuple[int, int]:
    """Convert records to 16 kHz mono WAVs under `audio_dir`; write the manifest and `rejected.tsv`.

    Records are converted as they come (by `workers` processes), each written at once: only a few clips are
    held, however many records there are. With `link_audio`, a source file that is already 16 kHz mono
    WAV/FLAC is not copied: the manifest points at it. Clips longer than `max_seconds` (None: no limit) are
    rejected, as are empty and unreadable ones."""
    where = f"corpus '{corpus}' split '{split}'"
    if isinstance(records, list):  # records at hand (e.g. file paths) are checked before any conversion
        check_records(records, where)
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    convert = partial(convert_record, audio_dir=audio_dir, max_seconds=max_seconds, link_audio=link_audio)
    rows, rejected = [], []
    for kept, entry in tqdm(_converted(convert, unique_records(records, where), workers),
                            desc=f"{corpus}/{split}", unit="clip", mininterval=5):
        if kept:
            meta = entry.pop("meta")
            rows.append({**entry, "corpus": corpus, "split": split, **meta})
        else:
            rejected.append(entry)
    return _write_manifest(rows, rejected, corpus, split, manifest_path, rejected_path)


def _converted(convert: Callable[[Record], tuple[bool, dict]], records: Iterable[Record], workers: int
               ) -> Iterator[tuple[bool, dict]]:
    """Each record converted, in order: here, or by `workers` processes a bounded number of records ahead."""
    if workers <= 1:
        yield from map(convert, records)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        yield from ordered_map(pool, convert, records, ahead=4 * workers)


def unique_records(records: Iterable[Record], where: str) -> Iterator[Record]:
    """The records, failing on an id seen before or a missing file as they come (a streamed source is never
    held whole)."""
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            raise ManifestError(f"{where}: duplicate ids: {rec.id}")
        seen.add(rec.id)
        if isinstance(rec.source, str | Path) and not Path(rec.source).exists():
            raise ManifestError(f"{where}: missing audio files: {rec.source}")
        yield rec


def linkable(source: str | Path | bytes | np.ndarray) -> int | None:
    """The sample count of a source file that is already 16 kHz mono WAV/FLAC (a manifest may point at it);
    None for anything else (converted as usual)."""
    if not isinstance(source, str | Path):
        return None
    try:
        info = sf.info(str(source))
    except Exception:  # noqa: BLE001 - unreadable: the conversion says why
        return None
    ok = info.samplerate == SAMPLE_RATE and info.channels == 1 and info.format in ("WAV", "FLAC")
    return int(info.frames) if ok else None


def convert_record(rec: Record, *, audio_dir: Path, max_seconds: float | None, link_audio: bool
                   ) -> tuple[bool, dict]:
    """(True, manifest row without corpus and split, its `meta` apart) for a kept record; (False, rejected
    row) otherwise. Runs in a worker process when the import is parallel."""
    source = rec.origin or str(rec.source)[:200]
    frames = linkable(rec.source) if link_audio else None
    if frames is not None:
        reason = length_reason(frames, max_seconds)
        path = str(rec.source)
    else:
        try:
            audio = load_samples(rec)
        except Exception as exc:  # noqa: BLE001 - any decoder failure means unreadable
            return False, {"id": rec.id, "source": source, "reason": f"unreadable: {type(exc).__name__}: {exc}"}
        frames, reason = audio.size, rejection_reason(audio, max_seconds)
        path = str(audio_dir / audio_filename(rec.id))
        if not reason:
            write_wav(audio, path)
    if reason:
        return False, {"id": rec.id, "source": source, "reason": reason}
    return True, {"id": rec.id, "audio": path, "duration_s": round(frames / SAMPLE_RATE, 4), "text": rec.text,
                  "meta": rec.meta}


def _write_manifest(rows: list[dict], rejected: list[dict], corpus: str, split: str, manifest_path: str | Path,
                    rejected_path: str | Path) -> tuple[int, int]:
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
    return read_id_table(path, COLUMNS, "manifest", error=ManifestError)


def manifest_clips(manifest: pd.DataFrame, desc: str, *, max_samples: int | None = None) -> Clips:
    """The clips of a manifest's rows, unread: a job reads them batch by batch (`udistil.common.clips`)."""
    return Clips.of(manifest["audio"], manifest["duration_s"], desc, max_samples=max_samples).check()


def read_clips(paths: Iterable[str], desc: str) -> list[np.ndarray]:
    """The 16 kHz samples of each file, with progress; a missing file is named."""
    paths = list(paths)
    return [read_clip(path, desc) for path in tqdm(paths, desc=f"read {desc}", unit="clip", mininterval=5)]
