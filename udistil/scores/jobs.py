"""Path-level entry points of the score rules: read inputs, compute one score, write its table."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from udistil.fileio import read_audio
from udistil.manifest import read_manifest
from udistil.scores import SCORES, write_score

log = logging.getLogger(__name__)


def _report(df: pd.DataFrame, name: str, out: str | Path, settings: dict[str, Any]) -> None:
    """Write the score table with the settings actually applied (parquet metadata `settings`, JSON) and log it."""
    write_score(df, name, out, settings=json.dumps(settings, sort_keys=True))
    failed = df["reason"].notna()
    log.info("%s: %d clips scored, %d with the worst score; keep %s", name, len(df), int(failed.sum()),
             SCORES[name].keep)
    for utt, reason in df.loc[failed, ["id", "reason"]].itertuples(index=False):
        log.info("  %s: %s", utt, reason)


def run_proxy(*, labels: str, transcripts: str, norm_kind: str, out: str) -> None:
    from udistil.scores.proxy import proxy_score

    _report(proxy_score(pd.read_parquet(labels), pd.read_parquet(transcripts), norm_kind), "proxy", out,
            {"normalizer": norm_kind, "transcripts": str(transcripts)})


def run_teacher_stat(*, labels: str, stat: str, out: str) -> None:
    from udistil.scores.teacher import teacher_score

    _report(teacher_score(pd.read_parquet(labels), stat), stat, out, {"statistic": stat})


def run_wer(*, labels: str, manifest: str, norm_kind: str, out: str) -> None:
    from udistil.scores.proxy import supervised_wer

    _report(supervised_wer(pd.read_parquet(labels), read_manifest(manifest), norm_kind), "wer", out,
            {"normalizer": norm_kind})


def run_nnll(*, labels: str, model: str, batch_size: int, device: str, out: str) -> None:
    from udistil.decoding import pick_device
    from udistil.scores.nnll import load_causal_lm, nnll_score

    lm, tok = load_causal_lm(model, pick_device(device))
    _report(nnll_score(pd.read_parquet(labels), lm, tok, batch_size), "nnll", out,
            {"model": str(model), "batch_size": batch_size})


def pool_audio(labels: pd.DataFrame, manifest: str) -> list:
    m = read_manifest(manifest).set_index("id")
    return [read_audio(m.loc[u, "audio"]) for u in labels["id"]]


def run_sonar(*, labels: str, cfg: dict[str, Any], out: str, transcripts: str | None, manifest: str | None,
              model: str | None, device: str) -> None:
    from udistil.scores import sonar

    lab = pd.read_parquet(labels)
    if cfg["backend"] == "text_embedding":
        df = sonar.text_embedding_score(lab, pd.read_parquet(transcripts), model)
        _report(df, "sonar", out, {**cfg, "model": str(model), "stand_in": True})
    else:
        df = sonar.sonar_score(lab, pool_audio(lab, manifest), cfg["speech_encoder"], cfg["text_encoder"],
                               cfg["text_lang"], device)
        _report(df, "sonar", out, {**cfg, "stand_in": False})


def run_pesq(*, labels: str, manifest: str, cfg: dict[str, Any], out: str) -> None:
    from udistil.scores.pesq import pesq_score

    lab = pd.read_parquet(labels)
    df = pesq_score(lab, pool_audio(lab, manifest), voice=cfg["voice"], rate=cfg["rate"], mode=cfg["mode"],
                    how=cfg["align"])
    _report(df, "pesq", out, cfg)
