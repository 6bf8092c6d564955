"""The layouts a split of a `type: local` corpus may have, told apart from its files alone. Cheap (no audio read,
no pandas): the config check and the planner ask which layout a split has and whether it carries transcripts.

- `folder`: audio files, ids from their relative paths, no transcripts;
- `sidecar`: audio files, each with a transcript file beside it (`<stem>.txt`, `<stem>.lab` or
  `<stem>.normalized.txt`, the first found in that order);
- `table`: a TSV/CSV file with id, path and optionally text columns;
- `audiofolder`: the Hugging Face audiofolder layout, a folder with `metadata.csv` or `metadata.jsonl` whose
  `file_name` column names each audio file;
- `kaldi`: a Kaldi/ESPnet data directory (`wav.scp`, optionally `text`, `segments`, `utt2spk`).

`auto` (the config's default) picks, in this order: a file -> table; a folder with metadata.csv/jsonl ->
audiofolder; a folder with wav.scp -> kaldi; a folder where an audio file has a transcript beside it -> sidecar;
any other folder -> folder.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from udistil.common.errors import ManifestError

FORMATS = ("folder", "sidecar", "table", "audiofolder", "kaldi")
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif"}
TRANSCRIPT_SUFFIXES = (".txt", ".lab", ".normalized.txt")  # beside `<stem>.<audio extension>`, first found wins
METADATA_FILES = ("metadata.csv", "metadata.jsonl")
TABLE_SUFFIXES = (".tsv", ".tab", ".csv")  # a split path with one of these names a transcript table
KALDI_FILE = "wav.scp"
TEXT_LIKE = ("transcription", "transcript", "sentence", "normalized_text", "raw_transcription", "text")
"""Column names that hold transcripts in common datasets: a table naming none of them as `text_column` while
having one is an error (the transcripts would otherwise be silently ignored)."""


def audio_files(folder: Path) -> list[Path]:
    """Every audio file under `folder`, in sorted path order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def sidecar_name(audio: Path, beside: set[str] | None = None) -> str | None:
    """The name of the transcript file beside `audio` (the first of TRANSCRIPT_SUFFIXES found), or None;
    `beside`: the names in its folder, when known."""
    stem = audio.name[: -len(audio.suffix)]
    names = (stem + s for s in TRANSCRIPT_SUFFIXES)
    return next((n for n in names if (n in beside if beside is not None else (audio.parent / n).is_file())), None)


def has_sidecars(folder: Path) -> bool:
    """Whether any audio file under `folder` has a transcript beside it (stops at the first found)."""
    for root, _, names in os.walk(folder):
        beside = set(names)
        if any(Path(n).suffix.lower() in AUDIO_EXTENSIONS and sidecar_name(Path(root) / n, beside) for n in names):
            return True
    return False


def metadata_file(folder: Path) -> Path | None:
    """The audiofolder metadata file of `folder`; an error when both metadata.csv and metadata.jsonl are there."""
    found = [folder / name for name in METADATA_FILES if (folder / name).is_file()]
    if len(found) > 1:
        raise ManifestError(f"{folder}: both metadata.csv and metadata.jsonl; keep one")
    return found[0] if found else None


def detect(path: str | Path) -> str | None:
    """The layout of an existing split path (see the module's doc); None when the path does not exist."""
    path = Path(path)
    if path.is_file():
        return "table"
    if not path.is_dir():
        return None
    if any((path / name).is_file() for name in METADATA_FILES):
        return "audiofolder"
    if (path / KALDI_FILE).is_file():
        return "kaldi"
    return "sidecar" if has_sidecars(path) else "folder"


def split_format(spec: dict[str, Any], path: str | Path) -> str | None:
    """The layout a split is read as: the corpus's `format`, or with `auto` the detected one (None: the path does
    not exist yet)."""
    return detect(path) if spec.get("format", "auto") == "auto" else spec["format"]


def format_error(fmt: str, path: str | Path) -> str | None:
    """Why an existing `path` cannot be read as `fmt` (None: it can, or the path does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return None
    if fmt == "table":
        return None if path.is_file() else f"format 'table' needs a TSV/CSV file; {path} is a folder"
    if not path.is_dir():
        return f"format '{fmt}' needs a folder; {path} is a file"
    if fmt == "kaldi" and not (path / KALDI_FILE).is_file():
        return f"format 'kaldi' needs {path / KALDI_FILE}"
    if fmt == "audiofolder":
        try:
            if metadata_file(path) is None:
                return f"format 'audiofolder' needs {path}/metadata.csv or {path}/metadata.jsonl"
        except ManifestError as exc:
            return str(exc)
    return None


def table_delimiter(path: Path) -> str:
    """A transcript table's field separator, by its name: tab for .tsv and .tab, else comma."""
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


def table_columns(path: Path) -> list[str]:
    """The header of a TSV/CSV table, or the keys of a JSONL file's first row."""
    with open(path, newline="", encoding="utf-8") as fh:
        if path.suffix.lower() == ".jsonl":
            first = next((line for line in fh if line.strip()), "{}")
            try:
                row = json.loads(first)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}: not JSON lines ({exc})") from exc
            return list(row) if isinstance(row, dict) else []
        return next(csv.reader(fh, delimiter=table_delimiter(path)), [])


def text_column_of(columns: list[str], text_column: str | None, where: str | Path) -> str | None:
    """The column the transcripts are read from: `text_column` when the table has it; None (no transcripts)
    when it is null or absent, except that a table with an unconfigured transcript-like column
    (TEXT_LIKE) is an error naming it, so that transcripts are never ignored unnoticed."""
    if text_column is None or text_column in columns:
        return text_column
    like = [c for c in columns if c in TEXT_LIKE]
    if like:
        raise ManifestError(f"{where}: no column '{text_column}' (the corpus's text_column) but {like}; set "
                            f"text_column: {like[0]} to read its transcripts, or text_column: null for none")
    return None


def split_has_text(spec: dict[str, Any], path: str | Path) -> bool:
    """Whether the split at `path` of a local corpus carries transcripts. A path that does not exist yet (a run
    planned before its data are in place) is judged by its format: a table by its name (.tsv, .tab, .csv), a plain
    folder has none, the other formats have them."""
    if spec.get("text_column", "text") is None:
        return False
    path = Path(path)
    if not path.exists():
        fmt = spec.get("format", "auto")
        return path.suffix.lower() in TABLE_SUFFIXES if fmt == "auto" else fmt != "folder"
    fmt = split_format(spec, path)
    if format_error(fmt, path):
        return False  # the config check reports it (split_errors)
    try:
        if fmt == "table":
            return text_column_of(table_columns(path), spec["text_column"], path) is not None
        if fmt == "audiofolder":
            meta = metadata_file(path)
            return text_column_of(table_columns(meta), spec["text_column"], meta) is not None
    except (ManifestError, OSError, UnicodeDecodeError):
        return False  # the config check reports it (split_errors)
    if fmt == "kaldi":
        return (path / "text").is_file()
    return fmt == "sidecar"


def split_errors(spec: dict[str, Any]) -> dict[str, str]:
    """Split -> why its path cannot be read as the corpus's format (checked on paths that exist)."""
    errors = {}
    for split, path in spec["splits"].items():
        if not Path(path).exists():
            continue  # its manifest job says so; a config may be planned before its data are in place
        fmt = split_format(spec, path)
        error = format_error(fmt, path)
        if error is None and fmt in ("table", "audiofolder"):
            table = Path(path) if fmt == "table" else metadata_file(Path(path))
            try:
                text_column_of(table_columns(table), spec.get("text_column", "text"), table)
            except (ManifestError, OSError, UnicodeDecodeError) as exc:
                error = str(exc)
        if error:
            errors[split] = error
    return errors
