"""Hugging Face datasets (hub or `save_to_disk` folders); audio read with soundfile, never torchcodec."""

from __future__ import annotations

from udistil.manifest import ManifestError, Record


def hf_records(path: str, split: str, name: str | None = None, from_disk: bool = False,
               audio_column: str = "audio", text_column: str | None = "text", id_column: str | None = None,
               max_rows: int | None = None, meta_columns: list[str] | tuple[str, ...] = ()) -> list[Record]:
    """Records of one split; ids from `id_column` or `{split}-{row:06d}`; `meta_columns` go into the manifest."""
    import datasets

    where = f"dataset '{path}'" + (f" config '{name}'" if name else "") + f" split '{split}'"
    if from_disk:
        ds = datasets.load_from_disk(path)
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ManifestError(f"{where}: no such split; found {list(ds)}")
            ds = ds[split]
    else:
        ds = datasets.load_dataset(path, name, split=split)
    wanted = {"audio_column": audio_column, "text_column": text_column, "id_column": id_column}
    wanted.update({f"meta_columns[{i}]": c for i, c in enumerate(meta_columns)})
    missing = [f"{k}={v!r}" for k, v in wanted.items() if v is not None and v not in ds.column_names]
    if missing:
        raise ManifestError(f"{where}: missing configured column(s) {', '.join(missing)}; "
                            f"found {ds.column_names}")
    ds = ds.cast_column(audio_column, datasets.Audio(decode=False))
    if max_rows is not None:
        ds = ds.select(range(min(max_rows, len(ds))))
    records = []
    for i, row in enumerate(ds):
        audio = row[audio_column]
        source = audio.get("bytes") or audio.get("path")
        if source is None:
            raise ManifestError(f"{where} row {i}: audio has neither bytes nor path")
        utt_id = str(row[id_column]) if id_column else f"{split}-{i:06d}"
        text = row[text_column] if text_column else None
        records.append(Record(id=utt_id, source=source, text=text, meta={c: row[c] for c in meta_columns},
                              origin=f"{where} row {i}"))
    return records
