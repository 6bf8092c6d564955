"""Local corpora: a folder of audio files, or a transcript table (TSV/CSV with id, path, text)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from udistil.corpora.manifest import ManifestError, Record

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif"}


def folder_records(folder: str | Path) -> list[Record]:
    """Every audio file under `folder`; the id is the relative path without extension, '/' as '__'."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"local corpus folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    return [Record(id="__".join(p.relative_to(folder).with_suffix("").parts), source=p, origin=str(p))
            for p in files]


def table_records(table: str | Path, id_column: str = "id", path_column: str = "path",
                  text_column: str | None = "text") -> list[Record]:
    """Rows of a TSV/CSV transcript table; relative paths are relative to the table's folder."""
    table = Path(table)
    if not table.is_file():
        raise ManifestError(f"transcript table not found: {table}")
    sep = "\t" if table.suffix.lower() in (".tsv", ".tab") else ","
    df = pd.read_csv(table, sep=sep, dtype=str, keep_default_na=False)
    required = [id_column, path_column]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ManifestError(f"{table}: missing column(s) {missing}; found {list(df.columns)}")
    has_text = text_column is not None and text_column in df.columns
    records = []
    for i, row in df.iterrows():
        path = Path(row[path_column])
        path = path if path.is_absolute() else table.parent / path
        records.append(Record(id=row[id_column], source=path, text=row[text_column] if has_text else None,
                              origin=f"{table}:{i + 2}"))
    return records


def local_records(path: str | Path, **columns) -> list[Record]:
    path = Path(path)
    return folder_records(path) if path.is_dir() else table_records(path, **columns)
