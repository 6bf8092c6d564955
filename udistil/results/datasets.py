"""The filtered data as Hugging Face datasets (`datasets.load_from_disk` folders) another training recipe can read:
each pool pseudo-labelled with every score it computed, and each filter's subset of it.

Columns, in distil-whisper's words where it has one: `audio` (an `Audio(sampling_rate=16000)` feature: the
manifest's 16 kHz clip), `id`, `text` (the ground truth; null where the corpus has none, so that every dataset has
the same text columns), `whisper_transcript` (the teacher's pseudo-label as decoded, timestamp tokens included when
the run kept them, as distil-whisper's pseudo-labelling writes it), `duration_s`, the teacher's token statistics
(`mean_logprob`, `conf`, `entropy`, `n_tokens`, `compression_ratio`), and one `score_<name>` column per score
(`score_conf`, not `conf`: a score may be named after a statistic, as `conf` and `entropy` are, and differs from it
where the pseudo-label is empty, which scores get their worst value).

Audio is embedded: each row holds its clip file's bytes (and its file name, which names the format), so a folder
stays valid wherever it is moved or copied. `save_to_disk` would embed a path's file anyway (datasets 5.x stores
every Audio value's bytes; paths need a string column); reading the bytes here bounds the memory a batch takes. Rows
are written a bounded number at a time (a pool of any size is never held in memory), and no torchcodec is needed to
write or read them: decoding is the reader's (`Audio(decode=False)` gives the bytes to soundfile; docs/results.md).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from udistil.common.fileio import SAMPLE_RATE, atomic_dir, read_id_table, read_json
from udistil.corpora.manifest import read_manifest
from udistil.scores import SCORES, read_score
from udistil.selection import filters

STATISTICS = {"mean_logprob": pa.float64(), "conf": pa.float64(), "entropy": pa.float64(), "n_tokens": pa.int64(),
              "compression_ratio": pa.float64()}
"""The teacher's token statistics of each pseudo-label (udistil.labels.pseudo_label's columns) and their types."""
AUDIO_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # datasets.Audio's storage
BATCH_ROWS, BATCH_BYTES = 64, 64 << 20  # rows written at a time: at most 64 clips or 64 MiB of audio


def score_column(name: str) -> str:
    """The dataset column of a score."""
    return f"score_{name}"


def pool_table(manifest: str | Path, labels: str | Path, score_paths: list[str]) -> pd.DataFrame:
    """One row per manifest clip, in manifest order: id, the clip's file, text, pseudo-label, duration, token
    statistics and a `score_<name>` column per score table (named by its file, as selection reads it)."""
    m = read_manifest(manifest)
    lab = read_id_table(labels, ["pseudo_label", *STATISTICS], "pseudo-label table", covers=m["id"])
    table = m[["id", "audio", "text", "duration_s"]].merge(
        lab[["id", "pseudo_label", *STATISTICS]].rename(columns={"pseudo_label": "whisper_transcript"}),
        on="id", how="left", validate="one_to_one")
    for path in score_paths:
        name = Path(path).stem
        if name not in SCORES:
            raise ValueError(f"{path}: a score table's file name must be a score ({sorted(SCORES)})")
        score = read_score(path, covers=m["id"])[0][["id", "score"]].rename(columns={"score": score_column(name)})
        table = table.merge(score, on="id", how="left", validate="one_to_one")
    return table


def arrow_schema(table: pd.DataFrame) -> pa.Schema:
    """The dataset's columns as Arrow types (audio as `datasets.Audio` stores it: bytes and path)."""
    scores = [c for c in table.columns if c.startswith("score_")]
    return pa.schema([("audio", AUDIO_TYPE), ("id", pa.string()), ("text", pa.string()),
                      ("whisper_transcript", pa.string()), ("duration_s", pa.float64()), *STATISTICS.items(),
                      *((c, pa.float64()) for c in scores)])


def audio_value(clip: str, utt_id: str) -> dict[str, Any]:
    """A clip as `datasets.Audio` stores it: its file's bytes, and its file name (which names the format)."""
    path = Path(clip)
    if not path.is_file():
        raise FileNotFoundError(f"manifest row '{utt_id}': audio file {clip} is missing")
    return {"bytes": path.read_bytes(), "path": path.name}


def record_batches(table: pd.DataFrame, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The rows as Arrow record batches, at most BATCH_ROWS rows or BATCH_BYTES of audio each."""
    others = pa.schema(list(schema)[1:])
    start = 0
    while start < len(table):
        clips: list[dict[str, Any]] = []
        size = 0
        while start + len(clips) < len(table) and len(clips) < BATCH_ROWS and size < BATCH_BYTES:
            row = table.iloc[start + len(clips)]
            clips.append(audio_value(row["audio"], row["id"]))
            size += len(clips[-1]["bytes"])
        rows = table.iloc[start:start + len(clips)].drop(columns="audio")
        columns = pa.RecordBatch.from_pandas(rows.astype({"text": object}), schema=others, preserve_index=False)
        yield pa.record_batch([pa.array(clips, AUDIO_TYPE), *columns.columns], schema=schema)
        start += len(clips)


def write_rows(table: pd.DataFrame, path: Path) -> None:
    """The rows as one Arrow stream file (the format `datasets.Dataset.from_file` maps)."""
    schema = arrow_schema(table)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in record_batches(table, schema):
            writer.write_batch(batch)


def save_dataset(ds: Any, out_dir: str | Path, card: Any) -> None:
    """`save_to_disk` into a temporary sibling of `out_dir` that replaces it whole, with the card as README.md. An
    empty dataset (a filter that keeps nothing) is saved as one empty shard: with none, it would not load."""
    with atomic_dir(out_dir) as tmp:
        ds.save_to_disk(str(tmp), num_shards=None if len(ds) else 1)
        card.save(tmp / "README.md")


def write_pool_dataset(*, manifest: str | Path, labels: str | Path, score_paths: list[str], pool: str,
                       teacher: str, language: str, out_dir: str | Path) -> int:
    """The pseudo-labelled pool with every score as a `load_from_disk` folder; returns its rows."""
    import datasets

    table = pool_table(manifest, labels, score_paths)
    scores = [Path(p).stem for p in score_paths]
    Path(out_dir).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{Path(out_dir).name}.rows.", dir=Path(out_dir).parent) as rows:
        write_rows(table, Path(rows) / "rows.arrow")
        ds = datasets.Dataset.from_file(str(Path(rows) / "rows.arrow"))
        ds = ds.cast_column("audio", datasets.Audio(sampling_rate=SAMPLE_RATE))
        card = pool_card(pool=pool, teacher=teacher, language=language, table=table, scores=scores)
        ds.info.description = card.text
        save_dataset(ds, out_dir, card)
        del ds  # its memory map of rows.arrow, before the folder goes
    return len(table)


def write_subset_dataset(*, pool_dir: str | Path, subset: str | Path, stats: str | Path, pool: str, filter_name: str,
                         scores: list[str], language: str, out_dir: str | Path) -> int:
    """A filter's subset (its parquet's ids, in its order) of the pool's dataset as a `load_from_disk` folder;
    returns its rows."""
    import datasets

    pool_ds = datasets.load_from_disk(str(pool_dir))
    kept = read_id_table(subset, [], "subset")["id"].tolist()
    position = {utt_id: i for i, utt_id in enumerate(pool_ds.data.column("id").to_pylist())}
    missing = [i for i in kept if i not in position]
    if missing:
        raise ValueError(f"{subset}: {len(missing)} ids are not in the pool's dataset {pool_dir}: {missing[:10]}")
    ds = pool_ds.select([position[i] for i in kept], keep_in_memory=True)  # no index file in the pool's folder
    columns = [c.removeprefix("score_") for c in ds.column_names if c.startswith("score_")]
    card = subset_card(pool=pool, filter_name=filter_name, scores=scores, stats=read_json(stats), language=language,
                       columns=columns)
    ds.info.description = card.text
    save_dataset(ds, out_dir, card)
    return len(kept)


# ---- dataset cards ---------------------------------------------------------------------------------------------

def card(pretty_name: str, language: str, body: str) -> Any:
    """A Hugging Face dataset card (README.md with metadata)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(pretty_name=pretty_name, language=[language],
                           task_categories=["automatic-speech-recognition"],
                           tags=["udistil", "whisper", "pseudo-labels", "distil-whisper"])
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")


COLUMNS_TEXT = """| column | what |
|---|---|
| `audio` | the 16 kHz mono clip (`Audio(sampling_rate=16000)`) |
| `id` | the clip's id in the run's manifest |
| `text` | the ground truth transcript; null where the corpus has none |
| `whisper_transcript` | the teacher's pseudo-label as decoded (timestamp tokens kept where the run kept them) |
| `duration_s` | the clip's length in seconds |
| `mean_logprob`, `conf`, `entropy`, `n_tokens`, `compression_ratio` | the teacher's token statistics |
"""


def score_rows(scores: list[str]) -> str:
    return "".join(f"| `{score_column(s)}` | {SCORES[s].description}; {SCORES[s].keep} is better |\n" for s in scores)


def pool_card(*, pool: str, teacher: str, language: str, table: pd.DataFrame, scores: list[str]) -> Any:
    """The card of a pool's dataset: its size, teacher, scores and columns."""
    labelled = bool(len(table)) and bool(table["text"].notna().all())
    body = (f"# {pool}, pseudo-labelled\n\nThe pool `{pool}` ({len(table)} clips, "
            f"{table['duration_s'].sum() / 3600:.3f} h) as uDistil-Whisper filters it: each clip with the "
            f"pseudo-label of the teacher `{teacher}` and every score the run computed on it "
            f"({', '.join(scores) or 'none'}). Ground truth: {'yes' if labelled else 'no (`text` is null)'}. "
            f"The audio is embedded: the folder can be moved.\n\n"
            f"## Columns\n\n{COLUMNS_TEXT}{score_rows(scores)}")
    return card(f"{pool} (pseudo-labelled)", language, body)


def filter_text(name: str, scores: list[str]) -> str:
    """What a filter keeps, in words."""
    kind = filters.get(name).kind
    if name == "none":
        return "no filter: every clip with a non-empty pseudo-label"
    if kind == "combination":
        return f"the best by the mean rank of the scores {', '.join(scores)} (lower is better)"
    (score,) = scores
    return f"the best by the score `{score}` ({SCORES[score].description}; {SCORES[score].keep} is better)"


def subset_card(*, pool: str, filter_name: str, scores: list[str], stats: dict[str, Any], language: str,
                columns: list[str]) -> Any:
    """The card of a filter's subset: the filter, its rule and its selection statistics; `scores` are those the
    filter reads, `columns` the scores the dataset has (the pool's)."""
    rule = ", ".join(f"{k} {stats[k]}" for k in ("mode", "value", "strict") if stats.get(k) is not None)
    table = "".join(f"| {k} | {v} |\n" for k, v in sorted(stats.items()))
    body = (f"# {pool}, filter {filter_name}\n\nThe clips of the pool `{pool}` that the filter `{filter_name}` "
            f"keeps: {filter_text(filter_name, scores)}. Selection rule: {rule}. Kept {stats['kept_clips']} of "
            f"{stats['pool_clips']} clips ({stats['kept_hours']:.3f} h). The columns are the pool dataset's "
            f"(`../all`), for the kept rows in manifest order.\n\n## Selection statistics\n\nAs selection wrote them "
            f"(`subsets/{pool}/{filter_name}.json`; true WER of the kept and dropped clips in percent, where the "
            f"pool has ground truth).\n\n| statistic | value |\n"
            f"|---|---|\n{table}\n## Columns\n\n{COLUMNS_TEXT}{score_rows(columns)}")
    return card(f"{pool} ({filter_name} filter)", language, body)

