"""Manifests: one row per utterance, audio converted to 16 kHz mono, bad inputs listed with a reason."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from udistil.common.clips import Clips, ordered_map, read_clip
from udistil.common.errors import ManifestError
from udistil.common.fileio import (
    SAMPLE_RATE,
    WindowError,
    read_audio,
    read_audio_window,
    read_id_table,
    write_parquet,
    write_tsv,
    write_wav,
)
from udistil.corpora.pauses import cut_at_pauses

log = logging.getLogger(__name__)

MAX_SECONDS = 30.0
COLUMNS = ["id", "audio", "duration_s", "text", "corpus", "split"]
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class Record:
    """One input utterance before conversion: a file path or encoded bytes, or samples at 16 kHz; with `start_s`
    and `end_s`, only that window of it (a segment of a longer recording)."""

    id: str
    source: str | Path | bytes | np.ndarray
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # where it came from, for messages (file path, dataset row)
    start_s: float | None = None
    end_s: float | None = None


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
    """The record's 16 kHz mono samples (only its window, when it has one)."""
    if isinstance(record.source, np.ndarray):
        audio = record.source.astype(np.float32)
        if record.start_s is None:
            return audio
        return audio[round(record.start_s * SAMPLE_RATE): round(record.end_s * SAMPLE_RATE)]
    source = record.source if isinstance(record.source, bytes) else str(record.source)
    if record.start_s is None:
        return read_audio(source)
    return read_audio_window(source, record.start_s, record.end_s)


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
                   link_audio: bool = False, workers: int = 1, split_long: bool = False) -> tuple[int, int]:
    """Convert records to 16 kHz mono WAVs under `audio_dir`; write the manifest and `rejected.tsv`.

    Records are converted as they come (by `workers` processes), each written at once: only a few clips are
    held, however many records there are. With `link_audio`, a source file that is already 16 kHz mono
    WAV/FLAC is not copied: the manifest points at it. Clips longer than `max_seconds` (None: no limit) are
    rejected, as are empty and unreadable ones; with `split_long`, an untranscribed one is cut at its pauses into
    utterances of at most `max_seconds` instead (`udistil.corpora.pauses`; a training pool)."""
    where = f"corpus '{corpus}' split '{split}'"
    if isinstance(records, list):  # records at hand (e.g. file paths) are checked before any conversion
        check_records(records, where)
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    convert = partial(convert_record, audio_dir=audio_dir, max_seconds=max_seconds, link_audio=link_audio,
                      split_long=split_long)
    rows, rejected, ids = [], [], set()
    for outcomes in tqdm(_converted(convert, unique_records(records, where), workers),
                         desc=f"{corpus}/{split}", unit="record", mininterval=5):
        for kept, entry in outcomes:
            if entry["id"] in ids:
                raise ManifestError(f"{where}: duplicate ids: {entry['id']} (an utterance cut from a long "
                                    "recording has another record's id)")
            ids.add(entry["id"])
            if kept:
                meta = entry.pop("meta")
                rows.append({**entry, "corpus": corpus, "split": split, **meta})
            else:
                rejected.append(entry)
    return _write_manifest(rows, rejected, corpus, split, manifest_path, rejected_path)


Outcome = tuple[bool, dict]  # (True, a manifest row without corpus and split, its `meta` apart) or (False, rejected)


def _converted(convert: Callable[[Record], list[Outcome]], records: Iterable[Record], workers: int
               ) -> Iterator[list[Outcome]]:
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


def convert_record(rec: Record, *, audio_dir: Path, max_seconds: float | None, link_audio: bool,
                   split_long: bool = False) -> list[Outcome]:
    """The record's outcomes: one, kept or rejected; or with `split_long`, for an untranscribed record longer
    than `max_seconds`, one per piece cut at its pauses. Runs in a worker process when the import is parallel."""
    source = rec.origin or str(rec.source)[:200]
    frames = linkable(rec.source) if link_audio and rec.start_s is None else None
    if frames is not None and not (split_long and too_long(frames, max_seconds)):
        reason = length_reason(frames, max_seconds)
        if reason:
            return [(False, {"id": rec.id, "source": source, "reason": reason})]
        return [(True, _row(rec, str(rec.source), frames))]
    try:
        audio = load_samples(rec)
    except WindowError as exc:
        return [(False, {"id": rec.id, "source": source, "reason": str(exc)})]
    except Exception as exc:  # noqa: BLE001 - any decoder failure means unreadable
        return [(False, {"id": rec.id, "source": source, "reason": f"unreadable: {type(exc).__name__}: {exc}"})]
    reason = rejection_reason(audio, max_seconds)
    if split_long and too_long(audio.size, max_seconds):
        if rec.text is None:
            return _pieces(rec, audio, audio_dir, max_seconds)
        reason += "; not cut at pauses: its transcript cannot be divided with it"
    if reason:
        return [(False, {"id": rec.id, "source": source, "reason": reason})]
    path = audio_dir / audio_filename(rec.id)
    write_wav(audio, path)
    return [(True, _row(rec, str(path), audio.size))]


def too_long(samples: int, max_seconds: float | None) -> bool:
    return max_seconds is not None and samples > max_seconds * SAMPLE_RATE


def source_name(rec: Record) -> str:
    """The file a record was read from, or where it came from (a dataset row) when it was not a file."""
    return str(rec.source) if isinstance(rec.source, str | Path) else rec.origin


def _row(rec: Record, path: str, frames: int, offset: int | None = None) -> dict:
    """A kept clip's manifest row (`meta` apart). A clip cut from a longer recording (a window of the record, or
    a piece `offset` samples into it) also carries its `source` file and `start_s`/`end_s` in it."""
    meta = rec.meta
    if rec.start_s is not None or offset is not None:
        start = (rec.start_s or 0.0) + (offset or 0) / SAMPLE_RATE
        meta = {**meta, "source": source_name(rec), "start_s": start, "end_s": start + frames / SAMPLE_RATE}
    return {"id": rec.id, "audio": path, "duration_s": round(frames / SAMPLE_RATE, 4), "text": rec.text,
            "meta": meta}


def piece_id(rec_id: str, start: int) -> str:
    """The id of the utterance cut `start` samples into a record: `<record id>__<start in ms, 7 digits>`."""
    return f"{rec_id}__{start * 1000 // SAMPLE_RATE:07d}"


def _pieces(rec: Record, audio: np.ndarray, audio_dir: Path, max_seconds: float) -> list[Outcome]:
    """An untranscribed long record cut at its pauses: each utterance written and kept, each silence or fragment
    rejected with its reason and place."""
    base = rec.start_s or 0.0
    outcomes: list[Outcome] = []
    for piece in cut_at_pauses(audio, max_seconds):
        utt_id = piece_id(rec.id, piece.start)
        if piece.reason:
            place = f"{base + piece.start / SAMPLE_RATE:.3f}-{base + piece.end / SAMPLE_RATE:.3f} s"
            outcomes.append((False, {"id": utt_id, "source": f"{rec.origin or source_name(rec)} {place}",
                                     "reason": piece.reason}))
            continue
        path = audio_dir / audio_filename(utt_id)
        write_wav(audio[piece.start:piece.end], path)
        outcomes.append((True, _row(replace(rec, id=utt_id), str(path), piece.end - piece.start, piece.start)))
    log.info("%s: %.1f s cut at pauses into %d utterances", rec.id, audio.size / SAMPLE_RATE,
             sum(kept for kept, _ in outcomes))
    return outcomes


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
