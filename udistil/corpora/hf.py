"""Hugging Face datasets (hub or `save_to_disk` folders); audio read with soundfile, never torchcodec.

Rows are read one at a time and handed on as records (the manifest converts and writes each as it comes), so
no split is held in memory; with `streaming`, the dataset itself is streamed too (nothing downloaded whole).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from udistil.manifest import ManifestError, Record


def hf_records(path: str, split: str, name: str | None = None, from_disk: bool = False,
               audio_column: str = "audio", text_column: str | None = "text", id_column: str | None = None,
               max_rows: int | None = None, meta_columns: list[str] | tuple[str, ...] = (),
               streaming: bool = False) -> Iterator[Record]:
    """Records of one split, read lazily; ids from `id_column` or `{split}-{row:06d}`; `meta_columns` go into the
    manifest. Columns are checked now; with `streaming`, rows come from an iterable dataset."""
    import datasets

    where = f"dataset '{path}'" + (f" config '{name}'" if name else "") + f" split '{split}'"
    ds = _load(path, split, name, from_disk, streaming, where)
    wanted = {"audio_column": audio_column, "text_column": text_column, "id_column": id_column}
    wanted.update({f"meta_columns[{i}]": c for i, c in enumerate(meta_columns)})
    columns = ds.column_names if ds.column_names is not None else list(next(iter(ds)))
    missing = [f"{k}={v!r}" for k, v in wanted.items() if v is not None and v not in columns]
    if missing:
        raise ManifestError(f"{where}: missing configured column(s) {', '.join(missing)}; found {columns}")
    ds = ds.cast_column(audio_column, datasets.Audio(decode=False))
    if max_rows is not None:
        ds = ds.take(max_rows) if streaming else ds.select(range(min(max_rows, len(ds))))
    if id_column and not streaming:  # one column read: duplicates fail before any conversion
        _check_unique([str(v) for v in ds[id_column]], where)
    return _rows(ds, split, where, audio_column, text_column, id_column, tuple(meta_columns))


def _load(path: str, split: str, name: str | None, from_disk: bool, streaming: bool, where: str) -> Any:
    """The split as a Dataset, or an IterableDataset with `streaming` (a saved folder is streamed from disk)."""
    import datasets

    if not from_disk:
        return datasets.load_dataset(path, name, split=split, streaming=streaming)
    ds = datasets.load_from_disk(path)
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise ManifestError(f"{where}: no such split; found {list(ds)}")
        ds = ds[split]
    return ds.to_iterable_dataset() if streaming else ds


def _check_unique(ids: list[str], where: str) -> None:
    dupes = sorted(u for u, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ManifestError(f"{where}: duplicate ids: {', '.join(dupes[:20])}"
                            + (f" (and {len(dupes) - 20} more)" if len(dupes) > 20 else ""))


def _rows(ds: Any, split: str, where: str, audio_column: str, text_column: str | None, id_column: str | None,
          meta_columns: tuple[str, ...]) -> Iterator[Record]:
    for i, row in enumerate(ds):
        audio = row[audio_column]
        source = audio.get("bytes") or audio.get("path")
        if source is None:
            raise ManifestError(f"{where} row {i}: audio has neither bytes nor path")
        utt_id = str(row[id_column]) if id_column else f"{split}-{i:06d}"
        text = row[text_column] if text_column else None
        yield Record(id=utt_id, source=source, text=text, meta={c: row[c] for c in meta_columns},
                     origin=f"{where} row {i}")
