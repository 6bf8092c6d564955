"""Teacher pseudo-labels with token statistics, and plain transcripts (the proxy model's), in shards that flush as
they go and resume after a crash."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from udistil.common.fileio import write_json, write_parquet
from udistil.corpora.manifest import manifest_clips, read_manifest
from udistil.labels.decoding import DecodeOptions, Hypothesis, Transcriber

log = logging.getLogger(__name__)

COLUMNS = ["id", "pseudo_label", "mean_logprob", "conf", "entropy", "n_tokens", "compression_ratio"]


def shard_rows(manifest: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Rows of shard `shard` of `n_shards`: every n-th row, so shards have similar length mixes."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} outside 0..{n_shards - 1}")
    return manifest.iloc[shard::n_shards].reset_index(drop=True)


def fingerprint(model: str, options: DecodeOptions, ids: list[str]) -> str:
    """What a partial result depends on (not how clips are read); a partial file with another fingerprint is not
    resumed."""
    decoding = {k: v for k, v in asdict(options).items() if k != "loader_workers"}
    blob = json.dumps({"model": model, "options": decoding, "ids": ids}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


TEXT_COLUMNS = ["id", "text"]


def hypothesis_row(utt_id: str, h: Hypothesis, statistics: bool = True) -> dict:
    """A shard row: the pseudo-label with its token statistics, or the plain transcript."""
    if not statistics:
        return {"id": utt_id, "text": h.text}
    return {"id": utt_id, "pseudo_label": h.text, "mean_logprob": h.mean_logprob, "conf": h.conf,
            "entropy": h.entropy, "n_tokens": h.n_tokens, "compression_ratio": h.compression_ratio}


def partial_paths(output: str | Path) -> tuple[Path, Path]:
    """Where a shard keeps its flushed rows (outside Snakemake's outputs, so a failed job keeps them)."""
    output = Path(output)
    partial = output.parent / ".partial"
    return partial / f"{output.stem}.parquet", partial / f"{output.stem}.json"


def load_partial(output: str | Path, key: str) -> list[dict]:
    rows_path, meta_path = partial_paths(output)
    if not (rows_path.exists() and meta_path.exists()):
        return []
    if json.loads(meta_path.read_text()).get("fingerprint") != key:
        log.warning("ignoring partial results in %s: made with another model, options or manifest", rows_path)
        return []
    rows = pd.read_parquet(rows_path).to_dict("records")
    log.info("resuming: %d clips already done in %s", len(rows), rows_path)
    return rows


def transcribe_shard(*, manifest_path: str | Path, model: str, options: DecodeOptions, output: str | Path,
                     shard: int, n_shards: int, flush_every: int, device: str, precision: str, cache: dict | None,
                     statistics: bool = True, after_flush: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Transcribe one shard of a pool, flushing every `flush_every` batches: the teacher's pseudo-labels with
    token statistics, or (`statistics=False`) plain transcripts (`id`, `text`), e.g. the proxy model's."""
    options = DecodeOptions(**{**asdict(options), "with_stats": statistics})
    columns = COLUMNS if statistics else TEXT_COLUMNS
    rows_df = shard_rows(read_manifest(manifest_path), shard, n_shards)
    ids = rows_df["id"].tolist()
    key = fingerprint(model, options, ids)
    done = {r["id"]: r for r in load_partial(output, key)}
    rows_path, meta_path = partial_paths(output)
    audios = manifest_clips(rows_df, f"{Path(manifest_path).name} shard {shard + 1}/{n_shards}")
    transcriber = Transcriber.load(model, options, device=device, precision=precision, cache=cache)
    pending: list[dict] = []
    flushes = 0

    def flush() -> None:
        nonlocal flushes
        write_parquet(pd.DataFrame(list(done.values()), columns=columns), rows_path)
        write_json({"fingerprint": key, "done": len(done), "of": len(ids)}, meta_path)
        pending.clear()
        flushes += 1
        if after_flush:
            after_flush(flushes)

    def on_batch(idx: list[int], hyps: list[Hypothesis]) -> None:
        for i, h in zip(idx, hyps, strict=True):
            done[ids[i]] = hypothesis_row(ids[i], h, statistics)
            pending.append(done[ids[i]])
        if len(pending) >= flush_every * options.batch_size:
            flush()

    skip = {i for i, u in enumerate(ids) if u in done}
    what = "pseudo-label" if statistics else "transcribe"
    transcriber.transcribe(audios, desc=f"{what} shard {shard + 1}/{n_shards}", on_batch=on_batch, skip=skip)
    result = pd.DataFrame([done[u] for u in ids], columns=columns)
    write_parquet(result, output)
    rows_path.unlink(missing_ok=True)
    meta_path.unlink(missing_ok=True)
    log.info("shard %d/%d: %d clips (%d resumed), %d encoder passes", shard + 1, n_shards, len(ids), len(skip),
             transcriber.encoder_passes)
    return result


def gather_shards(*, shards: list[str | Path], manifest_path: str | Path, output: str | Path) -> pd.DataFrame:
    """Concatenate shard outputs in manifest order; every manifest id must be present exactly once."""
    manifest = read_manifest(manifest_path)
    df = pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True)
    if sorted(df["id"]) != sorted(manifest["id"]):
        ids, want = df["id"], manifest["id"]
        raise ValueError(f"shards {[str(s) for s in shards]} do not cover manifest {manifest_path} exactly: "
                         f"missing {want[~want.isin(ids)].tolist()[:10]}, "
                         f"not in the manifest {ids[~ids.isin(want)].tolist()[:10]}, "
                         f"repeated {ids[ids.duplicated()].tolist()[:10]}")
    df = df.set_index("id").loc[manifest["id"]].reset_index()
    write_parquet(df, output)
    return df
