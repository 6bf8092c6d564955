"""Path-level entry points of the score rules: read inputs, compute one score, write its table.

Each entry point takes the filled config section it applies and records it, with the model's location,
in the score table's metadata (`settings`, JSON).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from udistil.clips import Clips
from udistil.manifest import manifest_clips, read_manifest
from udistil.scores import SCORES, TEACHER_STATS, write_score
from udistil.timestamps import strip_timestamps

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("id", "pseudo_label")


def read_table(path: str | Path, columns: Iterable[str], what: str) -> pd.DataFrame:
    """A parquet with unique ids and the given columns; a clear error naming the file otherwise."""
    df = pd.read_parquet(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: {what} lacks columns {missing} (has {list(df.columns)})")
    dupes = df["id"][df["id"].duplicated()].unique().tolist() if "id" in df.columns else []
    if dupes:
        raise ValueError(f"{path}: {what} has duplicate ids {dupes[:10]}")
    return df


def read_labels(path: str | Path, *extra: str) -> pd.DataFrame:
    """The pseudo-label table with `pseudo_label` as plain text: every score reads it without timestamp tokens."""
    df = read_table(path, (*LABEL_COLUMNS, *extra), "pseudo-label table")
    df["pseudo_label"] = df["pseudo_label"].map(strip_timestamps)
    return df


def require_keys(cfg: dict[str, Any], keys: Iterable[str], section: str) -> dict[str, Any]:
    """The filled config section `section`, checked for the keys this job applies."""
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise ValueError(f"{section} lacks {missing}: pass the section as validation fills it (got {dict(cfg)})")
    return dict(cfg)


def _report(df: pd.DataFrame, name: str, out: str | Path, settings: dict[str, Any]) -> None:
    """Write the score table with the settings actually applied (parquet metadata `settings`, JSON) and log it."""
    write_score(df, name, out, settings=json.dumps(settings, sort_keys=True))
    failed = df["reason"].notna()
    log.info("%s: %d clips scored, %d with the worst score; keep %s; settings %s", name, len(df),
             int(failed.sum()), SCORES[name].keep, settings)
    for utt, reason in df.loc[failed, ["id", "reason"]].itertuples(index=False):
        log.info("  %s: %s", utt, reason)


def run_proxy(*, labels: str, transcripts: str, norm_kind: str, out: str) -> None:
    from udistil.scores.proxy import proxy_score

    proxy = read_table(transcripts, ("id", "text"), "proxy transcript table")
    _report(proxy_score(read_labels(labels), proxy, norm_kind), "proxy", out,
            {"normalizer": norm_kind, "transcripts": str(transcripts)})


def run_teacher_stat(*, labels: str, stat: str, out: str) -> None:
    from udistil.scores.teacher import teacher_score

    if stat not in TEACHER_STATS:
        raise ValueError(f"not a teacher statistic: {stat} (one of {TEACHER_STATS})")
    lab = read_labels(labels, stat, "n_tokens", "mean_logprob")
    _report(teacher_score(lab, stat), stat, out, {"statistic": stat})


def run_wer(*, labels: str, manifest: str, norm_kind: str, out: str) -> None:
    from udistil.scores.proxy import supervised_wer

    _report(supervised_wer(read_labels(labels), read_manifest(manifest), norm_kind), "wer", out,
            {"normalizer": norm_kind})


def run_nnll(*, labels: str, cfg: dict[str, Any], model: str, device: str, out: str) -> None:
    """`cfg`: the filled `scores.nnll` section; `model`: where its model lies (a folder or .gguf file)."""
    from udistil.devices import pick_device
    from udistil.scores.nnll import load_causal_lm, nnll_score

    cfg = require_keys(cfg, ("model", "batch_size"), "scores.nnll")
    lm, tok = load_causal_lm(model, pick_device(device))
    _report(nnll_score(read_labels(labels), lm, tok, batch_size=cfg["batch_size"]), "nnll", out,
            {**cfg, "location": str(model), "device": device})


def pool_audio(labels: pd.DataFrame, manifest: str | Path) -> Clips:
    """The clip of each pseudo-label, in the labels' order, from the pool's manifest: unread (a score reads
    them one by one, or chunk by chunk)."""
    m = read_manifest(manifest).set_index("id")
    missing = [u for u in labels["id"] if u not in m.index]
    if missing:
        raise ValueError(f"{manifest}: no manifest row for pseudo-label ids {missing[:10]}"
                         + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""))
    return manifest_clips(m.loc[labels["id"]], str(manifest))


def _needed(value: str | None, what: str, backend: str) -> str:
    if value is None:
        raise ValueError(f"scores.sonar backend '{backend}' needs {what}, and the job was given none")
    return value


def run_sonar(*, labels: str, cfg: dict[str, Any], out: str, transcripts: str | None, manifest: str | None,
              model: str | None, device: str) -> None:
    """`cfg`: the filled `scores.sonar` section; the stand-in reads `transcripts` and `model`, SONAR `manifest`."""
    from udistil.scores import sonar

    backend = require_keys(cfg, ("backend",), "scores.sonar")["backend"]
    cfg = require_keys(cfg, ("model",) if backend == "text_embedding" else ("speech_encoder", "text_encoder",
                                                                              "text_lang"), "scores.sonar")
    lab = read_labels(labels)
    if backend == "text_embedding":
        proxy = read_table(_needed(transcripts, "proxy transcripts", backend), ("id", "text"),
                           "proxy transcript table")
        df = sonar.text_embedding_score(lab, proxy, _needed(model, "a sentence-embedding model", backend))
        _report(df, "sonar", out, {**cfg, "location": str(model), "stand_in": True})
    else:
        df = sonar.sonar_score(lab, pool_audio(lab, _needed(manifest, "the pool's manifest", backend)),
                               speech_encoder=cfg["speech_encoder"], text_encoder=cfg["text_encoder"],
                               text_lang=cfg["text_lang"], device=device)
        _report(df, "sonar", out, {**cfg, "device": device, "stand_in": False})


def run_pesq(*, labels: str, manifest: str, cfg: dict[str, Any], out: str) -> None:
    """`cfg`: the filled `scores.pesq` section (voice, rate, mode, align), recorded as applied."""
    from udistil.scores.pesq import pesq_score

    cfg = require_keys(cfg, ("voice", "rate", "mode", "align"), "scores.pesq")
    lab = read_labels(labels)
    df = pesq_score(lab, pool_audio(lab, manifest), voice=cfg["voice"], rate=cfg["rate"], mode=cfg["mode"],
                    how=cfg["align"])
    _report(df, "pesq", out, cfg)
