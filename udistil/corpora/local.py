"""Local corpora: a folder of audio files (with or without a transcript beside each), a transcript table
(TSV/CSV with id, path, text), a Hugging Face audiofolder or a Kaldi data directory (`udistil.corpora.formats`
says which; `udistil.corpora.kaldi` reads the last)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from udistil.corpora.formats import (
    TRANSCRIPT_SUFFIXES,
    audio_files,
    format_error,
    metadata_file,
    sidecar_name,
    split_format,
    table_delimiter,
    text_column_of,
)
from udistil.corpora.kaldi import kaldi_records
from udistil.corpora.manifest import ManifestError, Record


def relative_id(path: Path, folder: Path) -> str:
    """An id from a file's path under `folder`: without its extension, '/' as '__'."""
    return "__".join(path.relative_to(folder).with_suffix("").parts)


def folder_records(folder: str | Path) -> list[Record]:
    """Every audio file under `folder`; the id is the relative path without extension, '/' as '__'."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"local corpus folder not found: {folder}")
    return [Record(id=relative_id(p, folder), source=p, origin=str(p)) for p in audio_files(folder)]


def read_transcript(path: Path) -> str:
    """A transcript file's text, its lines and runs of white space joined by single spaces."""
    try:
        return " ".join(path.read_text(encoding="utf-8").split())
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc})") from exc


def sidecar_records(folder: str | Path, with_text: bool = True) -> list[Record]:
    """Every audio file under `folder` with the transcript beside it (`<stem>` + the first of
    TRANSCRIPT_SUFFIXES found). Every file needs one: those without are an error naming them (read the folder
    as format `folder`, or with `text_column: null`, to ignore the transcripts). Without `with_text` the
    transcripts are not read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"local corpus folder not found: {folder}")
    found = [(p, sidecar_name(p)) for p in audio_files(folder)]
    bare = [str(p) for p, name in found if name is None]
    if bare and with_text:
        raise ManifestError(
            f"{folder}: {len(bare)} of {len(found)} audio files have no transcript beside them "
            f"({'/'.join(TRANSCRIPT_SUFFIXES)}): {', '.join(bare[:10])}" + (" ..." if len(bare) > 10 else "")
            + "; add them, or set format: folder (or text_column: null) to read the folder without transcripts")
    return [Record(id=relative_id(p, folder), source=p, origin=str(p),
                   text=read_transcript(p.parent / name) if with_text else None) for p, name in found]


def _group(row: dict, group_column: str | None) -> dict[str, str]:
    return {"group": str(row[group_column])} if group_column else {}


def _check_group_column(columns: list[str], group_column: str | None, where: str | Path) -> None:
    if group_column is not None and group_column not in columns:
        raise ManifestError(f"{where}: no column '{group_column}' (the corpus's group_column); found {columns}")


def table_records(table: str | Path, id_column: str = "id", path_column: str = "path",
                  text_column: str | None = "text", group_column: str | None = None) -> list[Record]:
    """Rows of a TSV/CSV transcript table; relative paths are relative to the table's folder."""
    table = Path(table)
    if not table.is_file():
        raise ManifestError(f"transcript table not found: {table}")
    df = pd.read_csv(table, sep=table_delimiter(table), dtype=str, keep_default_na=False)
    required = [id_column, path_column]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ManifestError(f"{table}: missing column(s) {missing}; found {list(df.columns)}")
    text_column = text_column_of(list(df.columns), text_column, table)
    _check_group_column(list(df.columns), group_column, table)
    records = []
    for i, row in enumerate(df.to_dict("records")):
        path = Path(row[path_column])
        path = path if path.is_absolute() else table.parent / path
        records.append(Record(id=row[id_column], source=path, text=row[text_column] if text_column else None,
                              meta=_group(row, group_column), origin=f"{table}:{i + 2}"))
    return records


def metadata_rows(meta: Path) -> list[tuple[str, dict]]:
    """(where, row) of each row of an audiofolder's metadata.csv (where: `file:line`) or metadata.jsonl."""
    if meta.suffix == ".csv":
        df = pd.read_csv(meta, dtype=str, keep_default_na=False)
        return [(f"{meta}:{i + 2}", row) for i, row in enumerate(df.to_dict("records"))]
    rows = []
    for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{meta}:{n}: not a JSON object ({exc})") from exc
        if not isinstance(row, dict):
            raise ManifestError(f"{meta}:{n}: not a JSON object")
        rows.append((f"{meta}:{n}", row))
    return rows


def audiofolder_records(folder: str | Path, id_column: str = "id", text_column: str | None = "text",
                        group_column: str | None = None) -> list[Record]:
    """The rows of a Hugging Face audiofolder (`metadata.csv` or `metadata.jsonl` whose `file_name` is each audio
    file's path relative to the folder). Ids from `id_column` when the metadata has it, else from `file_name`
    (without extension, '/' as '__'). Every audio file under the folder must be listed (an error names those
    that are not), and every listed file must exist (an error names the line)."""
    folder = Path(folder)
    error = format_error("audiofolder", folder) if folder.exists() else f"audiofolder not found: {folder}"
    if error:
        raise ManifestError(error)
    meta = metadata_file(folder)
    rows = metadata_rows(meta)
    columns = list(dict.fromkeys(c for _, row in rows for c in row))
    if "file_name" not in columns:
        raise ManifestError(f"{meta}: no 'file_name' column (each audio file's path); found {columns}")
    text_column = text_column_of(columns, text_column, meta)
    _check_group_column(columns, group_column, meta)
    records, listed = [], set()
    for where, row in rows:
        records.append(_metadata_record(folder, where, row, id_column if id_column in columns else None,
                                        text_column, group_column))
        listed.add(Path(records[-1].source).resolve())
    unlisted = [str(p) for p in audio_files(folder) if p.resolve() not in listed]
    if unlisted:
        raise ManifestError(f"{meta}: {len(unlisted)} audio files in {folder} are not listed: "
                            f"{', '.join(unlisted[:10])}" + (" ..." if len(unlisted) > 10 else ""))
    return records


def _metadata_record(folder: Path, where: str, row: dict, id_column: str | None, text_column: str | None,
                     group_column: str | None) -> Record:
    for column in ("file_name", id_column, text_column, group_column):
        if column is not None and row.get(column) is None:
            raise ManifestError(f"{where}: no value in column '{column}'")
    path = folder / str(row["file_name"])
    if not path.is_file():
        raise ManifestError(f"{where}: audio file not found: {path}")
    utt_id = str(row[id_column]) if id_column else relative_id(path, folder)
    return Record(id=utt_id, source=path, text=str(row[text_column]) if text_column else None,
                  meta=_group(row, group_column), origin=where)


def local_records(path: str | Path, *, format: str = "auto", id_column: str = "id", path_column: str = "path",
                  text_column: str | None = "text", group_column: str | None = None) -> list[Record]:
    """The records of one split of a local corpus, read as `format` (`auto`: detected from its files)."""
    path = Path(path)
    fmt = split_format({"format": format}, path)
    if fmt is None:
        raise ManifestError(f"local corpus split not found: {path}")
    error = format_error(fmt, path)
    if error:
        raise ManifestError(error)
    if fmt == "folder":
        return folder_records(path)
    if fmt == "sidecar":
        return sidecar_records(path, with_text=text_column is not None)
    if fmt == "audiofolder":
        return audiofolder_records(path, id_column=id_column, text_column=text_column, group_column=group_column)
    if fmt == "kaldi":
        return kaldi_records(path, with_text=text_column is not None)
    return table_records(path, id_column=id_column, path_column=path_column, text_column=text_column,
                         group_column=group_column)
