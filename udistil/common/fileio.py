"""Atomic file output, checked table input and audio input shared by every step."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

SAMPLE_RATE = 16_000


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary sibling of `path` that replaces it only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder of `path` that replaces it (whole) only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        tmp.chmod(0o755)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write a DataFrame atomically, without the index, reproducibly; `metadata` goes into the schema."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in metadata.items()}})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def parquet_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string key-value metadata written by `write_parquet(..., metadata=...)`."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if k != b"pandas"}


def read_id_table(path: str | os.PathLike, columns: Iterable[str], what: str, *, covers: pd.Series | None = None,
                  error: type[ValueError] = ValueError) -> pd.DataFrame:
    """A parquet table of one row per `id`, checked before use: it has `id` and `columns`, its ids are unique
    and, with `covers`, it has a row for each of those (manifest) ids. `error` names the file, what it is
    (`what`), and the missing columns, or the column and the offending ids and rows."""
    df = pd.read_parquet(path)
    missing = [c for c in dict.fromkeys(("id", *columns)) if c not in df.columns]
    if missing:
        raise error(f"{path}: {what} lacks columns {missing} (has {list(df.columns)})")
    repeated = df["id"].duplicated(keep=False).to_numpy()
    if repeated.any():
        ids = df["id"][repeated].unique().tolist()
        raise error(f"{path}: {what} has duplicate ids {ids[:10]} in column 'id' "
                    f"(rows {np.flatnonzero(repeated)[:10].tolist()})")
    if covers is not None:
        absent = covers[~covers.isin(df["id"])].tolist()
        if absent:
            raise error(f"{path}: {what} has no row for {len(absent)} manifest ids, e.g. {absent[:10]}")
    return df


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_tsv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, lineterminator="\n")


def write_wav(audio: np.ndarray, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM atomically (deterministic bytes for the same samples)."""
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Down-mix to mono and resample to 16 kHz with a polyphase filter."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        g = gcd(int(sample_rate), SAMPLE_RATE)
        from scipy.signal import resample_poly  # imported here: most jobs never resample

        audio = resample_poly(audio, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    return audio


def read_audio(source: str | os.PathLike | bytes) -> np.ndarray:
    """Read a file path or encoded bytes with soundfile as 16 kHz mono float32."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    audio, sr = sf.read(handle, dtype="float32", always_2d=False)
    return to_mono_16k(audio, sr)


class WindowError(ValueError):
    """A window of a recording that lies (too far) outside it."""


def read_audio_window(source: str | os.PathLike | bytes, start_s: float, end_s: float,
                      max_overshoot_s: float = 0.5) -> np.ndarray:
    """Samples [round(start_s * rate), round(end_s * rate)) of a file or encoded bytes, counted at the source's
    own rate, as 16 kHz mono float32 (only the window is read). A window that ends after the recording is cut at
    its end when it overshoots by at most `max_overshoot_s` (as Kaldi's extract-segments); one that starts at or
    after the end, or overshoots further, is a WindowError."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    with sf.SoundFile(handle) as f:
        rate, frames = f.samplerate, f.frames
        start, stop = round(start_s * rate), round(end_s * rate)
        if start >= frames or stop - frames > max_overshoot_s * rate:
            raise WindowError(f"segment {start_s:g}-{end_s:g} s lies outside the recording ({frames / rate:g} s "
                              f"long; an overshoot of at most {max_overshoot_s:g} s is cut)")
        f.seek(start)
        audio = f.read(min(stop, frames) - start, dtype="float32", always_2d=False)
    return to_mono_16k(audio, rate)
