"""Hugging Face datasets (hub or `save_to_disk` folders); audio read with soundfile, never torchcodec.

Rows are read one at a time and handed on as records (the manifest converts and writes each as it comes), so
no split is held in memory; with `streaming`, the dataset itself is streamed too (nothing downloaded whole).
"""

from __future__ import annotations

import json
import mmap
from collections import Counter
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from udistil.common.hub import cache_dir, cached_snapshot
from udistil.corpora.manifest import ManifestError, Record


def hf_records(path: str, split: str, name: str | None = None, from_disk: bool = False,
               audio_column: str = "audio", text_column: str | None = "text", id_column: str | None = None,
               max_rows: int | None = None, meta_columns: list[str] | tuple[str, ...] = (),
               streaming: bool = False, group_column: str | None = None) -> Iterator[Record]:
    """Records of one split, read lazily; ids from `id_column` or `{split}-{row:06d}`; `meta_columns` go into the
    manifest, and `group_column` (a speaker or recording column) into its `group` column, which the bootstrap
    resamples as clusters. Columns are checked now; with `streaming`, rows come from an iterable dataset."""
    import datasets

    where = f"dataset '{path}'" + (f" config '{name}'" if name else "") + f" split '{split}'"
    meta_columns = (*meta_columns, *([group_column] if group_column else []))
    if from_disk:
        return _saved_records(SavedSplit(path, split, where), split, where, audio_column, text_column, id_column,
                              max_rows, meta_columns, group_column)
    ds = _load(path, split, name, streaming, where)
    columns = ds.column_names if ds.column_names is not None else list(next(iter(ds)))
    _check_columns(columns, where, audio_column, text_column, id_column, meta_columns)
    ds = ds.cast_column(audio_column, datasets.Audio(decode=False))
    if max_rows is not None:
        ds = ds.take(max_rows) if streaming else ds.select(range(min(max_rows, len(ds))))
    if id_column and not streaming:  # one column read: duplicates fail before any conversion
        _check_unique([str(v) for v in ds[id_column]], where)
    return _rows(ds, split, where, audio_column, text_column, id_column, meta_columns, group_column)


def _load(path: str, split: str, name: str | None, streaming: bool, where: str) -> Any:
    """The split as a Dataset, or an IterableDataset with `streaming`. Offline (HF_HUB_OFFLINE or
    HF_DATASETS_OFFLINE), a hub dataset is read from its snapshot in the hub cache (`snakemake fetch` put it
    there): `load_dataset` given the repo id offline reads only datasets' own cache of an earlier online load."""
    import datasets

    if datasets.config.HF_HUB_OFFLINE and not Path(path).is_dir():
        path = str(_cached_dataset(path, where))
    return datasets.load_dataset(path, name, split=split, streaming=streaming)


def _cached_dataset(repo_id: str, where: str) -> Path:
    folder = cached_snapshot(repo_id, "dataset")
    if folder is None:
        raise ManifestError(f"{where}: offline, and the dataset is not in the Hugging Face cache ({cache_dir()}); "
                            "fetch it first where the hub is reachable: snakemake fetch --configfile <config>")
    return folder


class SavedSplit:
    """A `save_to_disk` split read a few rows at a time from its memory-mapped Arrow files. The pages read are
    released after each slice (`madvise(MADV_DONTNEED)`): a mapped file's pages otherwise stay resident once read,
    so reading every row would hold the whole split, and a stored record batch (often the whole split of a small
    dataset) would be copied whole by a plain file read."""

    def __init__(self, path: str, split: str, where: str, rows: int = 16):
        folder = Path(path)
        if (folder / "dataset_dict.json").exists():
            splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
            if split not in splits:
                raise ManifestError(f"{where}: no such split; found {splits}")
            folder = folder / split
        state = folder / "state.json"
        if not state.exists():
            raise ManifestError(f"{where}: {folder} is not a save_to_disk folder (no state.json)")
        self.files = [folder / f["filename"] for f in json.loads(state.read_text())["_data_files"]]
        self.rows = rows
        self.column_names = self._schema().names

    def _schema(self):
        with pa.OSFile(str(self.files[0])) as f:
            return pa.ipc.open_stream(f).schema

    def batches(self, columns: list[str] | None = None) -> Iterator[list[dict]]:
        """Rows as dicts, `rows` at a time, in stored order (only `columns` kept when given)."""
        for path in self.files:
            with open(path, "rb") as fh:
                mapping = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                yield from self._mapped_rows(mapping, columns)
            finally:
                try:
                    mapping.close()
                except BufferError:  # Arrow views still alive (a reader stopped mid-batch): unmapped when collected
                    pass

    def _mapped_rows(self, mapping: Any, columns: list[str] | None) -> Iterator[list[dict]]:
        for batch in pa.ipc.open_stream(pa.BufferReader(pa.py_buffer(mapping))):  # zero-copy views of the mapping
            batch = batch.select(columns) if columns else batch
            for start in range(0, batch.num_rows, self.rows):
                yield batch.slice(start, self.rows).to_pylist()
                if hasattr(mapping, "madvise"):
                    mapping.madvise(mmap.MADV_DONTNEED)  # drop the pages read so far (they stay in the page cache)


def _saved_records(saved: SavedSplit, split: str, where: str, audio_column: str, text_column: str | None,
                   id_column: str | None, max_rows: int | None, meta_columns: tuple[str, ...],
                   group_column: str | None = None) -> Iterator[Record]:
    """Records of a saved split; columns and (one column read) duplicate ids are checked before any row."""
    _check_columns(saved.column_names, where, audio_column, text_column, id_column, meta_columns)
    if id_column:
        ids = (str(r[id_column]) for b in saved.batches([id_column]) for r in b)
        _check_unique(list(islice(ids, max_rows)), where)
    rows = islice(chain.from_iterable(saved.batches()), max_rows)
    return _rows(rows, split, where, audio_column, text_column, id_column, meta_columns, group_column)


def _check_columns(columns: list[str], where: str, audio_column: str, text_column: str | None,
                   id_column: str | None, meta_columns: tuple[str, ...] | list[str]) -> None:
    """Every configured column is in the split, or an error naming each missing one and the columns found."""
    wanted = {"audio_column": audio_column, "text_column": text_column, "id_column": id_column}
    wanted.update({f"meta_columns[{i}]": c for i, c in enumerate(meta_columns)})
    missing = [f"{k}={v!r}" for k, v in wanted.items() if v is not None and v not in columns]
    if missing:
        raise ManifestError(f"{where}: missing configured column(s) {', '.join(missing)}; found {columns}")


def _check_unique(ids: list[str], where: str) -> None:
    dupes = sorted(u for u, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ManifestError(f"{where}: duplicate ids: {', '.join(dupes[:20])}"
                            + (f" (and {len(dupes) - 20} more)" if len(dupes) > 20 else ""))


def _rows(ds: Any, split: str, where: str, audio_column: str, text_column: str | None, id_column: str | None,
          meta_columns: tuple[str, ...], group_column: str | None = None) -> Iterator[Record]:
    for i, row in enumerate(ds):
        audio = row[audio_column]
        source = audio.get("bytes") or audio.get("path")
        if source is None:
            raise ManifestError(f"{where} row {i}: audio has neither bytes nor path")
        utt_id = str(row[id_column]) if id_column else f"{split}-{i:06d}"
        text = row[text_column] if text_column else None
        meta = {c: row[c] for c in meta_columns} | ({"group": str(row[group_column])} if group_column else {})
        yield Record(id=utt_id, source=source, text=text, meta=meta,
                     origin=f"{where} row {i}")
