"""`sonar`: cosine similarity of a speech embedding of the clip and a text embedding of its pseudo-label.

Two backends:
- `sonar`: the paper's measure, Meta's SONAR speech and text encoders (`sonar-space`, which downloads its
  encoders and pins its own torch/fairseq2: its rule runs in envs/sonar.yaml).
- `text_embedding`: the offline stand-in of the default: cosine between sentence embeddings of the
  pseudo-label and of the proxy model's transcript (no joint speech-text model installs offline).
  Tables and plots name it `sonar*` and say it is a stand-in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from udistil.common.clips import subset
from udistil.common.fileio import read_id_table, write_json
from udistil.scores import is_empty, worst
from udistil.scores.jobs import pool_audio, read_labels, report, require_keys


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return np.sum(a * b, axis=1)


def sonar_embeddings(audios: Sequence[np.ndarray], texts: Sequence[str], *, speech_encoder: str, text_encoder: str,
                     text_lang: str, device: str, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """SONAR speech embeddings of 16 kHz clips and text embeddings of texts (sonar-space pipelines); lazy clips
    (`udistil.common.clips.Clips`) are read chunk by chunk."""
    from sonar.inference_pipelines.speech import SpeechToEmbeddingModelPipeline
    from sonar.inference_pipelines.text import TextToEmbeddingModelPipeline

    dev = torch.device(device)
    speech = SpeechToEmbeddingModelPipeline(encoder=speech_encoder, device=dev)
    text = TextToEmbeddingModelPipeline(encoder=text_encoder, tokenizer=text_encoder, device=dev)
    step = batch_size * 8  # the pipelines batch inside each chunk; one chunk of audio is read at a time
    s, t = [], []
    for b in tqdm(range(0, len(audios), step), desc="sonar", unit="chunk", mininterval=5):
        waves = [torch.from_numpy(np.asarray(a, dtype=np.float32)).unsqueeze(0) for a in audios[b:b + step]]
        s.append(_numpy(speech.predict(waves, batch_size=batch_size)))
        t.append(_numpy(text.predict(list(texts[b:b + step]), source_lang=text_lang, batch_size=batch_size)))
    return (np.concatenate(s), np.concatenate(t)) if s else (np.zeros((0, 1)), np.zeros((0, 1)))


def _numpy(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


def sentence_embeddings(texts: Sequence[str], location: str, batch_size: int = 32) -> np.ndarray:
    """Mean-pooled sentence embeddings (all-MiniLM-L6-v2 style) with a plain AutoModel."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(location)
    model = AutoModel.from_pretrained(location).eval()
    out = []
    with torch.inference_mode():
        for b in tqdm(range(0, len(texts), batch_size), desc="embed", unit="batch", mininterval=5):
            enc = tok(list(texts[b:b + batch_size]), padding=True, truncation=True, max_length=256,
                      return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def similarity_table(ids: Sequence[str], labels: Sequence[object], sims: dict[int, float],
                     reasons: dict[int, str]) -> pd.DataFrame:
    rows = [(u, sims.get(i, worst("sonar")), reasons.get(i)) for i, u in enumerate(ids)]
    df = pd.DataFrame(rows, columns=["id", "score", "reason"])
    df["pseudo_label"] = list(labels)
    return df


def sonar_score(labels: pd.DataFrame, audios: Sequence[np.ndarray], *, speech_encoder: str, text_encoder: str,
                text_lang: str, device: str) -> pd.DataFrame:
    """The paper's SONAR similarity between each clip and its pseudo-label."""
    keep = [i for i, t in enumerate(labels["pseudo_label"]) if not is_empty(t)]
    s, t = sonar_embeddings(subset(audios, keep), [labels["pseudo_label"].iloc[i] for i in keep],
                            speech_encoder=speech_encoder, text_encoder=text_encoder, text_lang=text_lang,
                            device=device)
    sims = dict(zip(keep, cosine(s, t).tolist(), strict=True))
    reasons = {i: "empty pseudo-label" for i in range(len(labels)) if i not in sims}
    return similarity_table(labels["id"].tolist(), labels["pseudo_label"], sims, reasons)


def text_embedding_score(labels: pd.DataFrame, transcripts: pd.DataFrame, location: str) -> pd.DataFrame:
    """Offline stand-in: cosine of sentence embeddings of the pseudo-label and the proxy transcript."""
    merged = labels[["id", "pseudo_label"]].merge(transcripts[["id", "text"]], on="id", how="left",
                                                  validate="one_to_one")
    reasons: dict[int, str] = {}
    keep = []
    for i, (label, proxy) in enumerate(zip(merged["pseudo_label"], merged["text"], strict=True)):
        if is_empty(label):
            reasons[i] = "empty pseudo-label"
        elif is_empty(proxy):
            reasons[i] = "empty proxy transcript"
        else:
            keep.append(i)
    emb = sentence_embeddings([merged["pseudo_label"].iloc[i] for i in keep]
                              + [merged["text"].iloc[i] for i in keep], location)
    sims = dict(zip(keep, cosine(emb[:len(keep)], emb[len(keep):]).tolist(), strict=True))
    return similarity_table(merged["id"].tolist(), merged["pseudo_label"], sims, reasons)


def _needed(value: str | None, what: str, backend: str) -> str:
    if value is None:
        raise ValueError(f"scores.sonar backend '{backend}' needs {what}, and the job was given none")
    return value


def run_sonar(*, labels: str, cfg: dict[str, Any], out: str, transcripts: str | None, manifest: str | None,
              model: str | None, device: str) -> None:
    """`cfg`: the filled `scores.sonar` section; the stand-in reads `transcripts` and `model`, SONAR `manifest`."""
    backend = require_keys(cfg, ("backend",), "scores.sonar")["backend"]
    cfg = require_keys(cfg, ("model",) if backend == "text_embedding" else ("speech_encoder", "text_encoder",
                                                                              "text_lang"), "scores.sonar")
    lab = read_labels(labels)
    if backend == "text_embedding":
        proxy = read_id_table(_needed(transcripts, "proxy transcripts", backend), ("id", "text"),
                              "proxy transcript table")
        df = text_embedding_score(lab, proxy, _needed(model, "a sentence-embedding model", backend))
        report(df, "sonar", out, {**cfg, "location": str(model), "stand_in": True})
    else:
        df = sonar_score(lab, pool_audio(lab, _needed(manifest, "the pool's manifest", backend)),
                         speech_encoder=cfg["speech_encoder"], text_encoder=cfg["text_encoder"],
                         text_lang=cfg["text_lang"], device=device)
        report(df, "sonar", out, {**cfg, "device": device, "stand_in": False})


def fetch_encoders(*, encoders: dict[str, str], out: str) -> None:
    """The fetch_sonar job: load the SONAR encoders once on the CPU, so that sonar-space (fairseq2) downloads
    them into its own cache (they are not on the Hugging Face hub). Where sonar-space is not installed (the job
    ran outside envs/sonar.yaml) nothing is fetched: the log and the record `out` say so and why."""
    names = list(encoders.values())
    try:
        from sonar.inference_pipelines.speech import SpeechToEmbeddingModelPipeline
        from sonar.inference_pipelines.text import TextToEmbeddingModelPipeline
    except ImportError as err:
        reason = (f"not fetched: sonar-space is not installed in this environment ({err}). The SONAR encoders "
                  "are not on the Hugging Face hub: sonar-space downloads them into fairseq2's cache when it "
                  "first loads them. Run the fetch in envs/sonar.yaml (`snakemake fetch "
                  "--software-deployment-method conda --configfile ...`) where the internet is reachable")
        logging.getLogger("udistil.job").warning("SONAR encoders %s %s", ", ".join(names), reason)
        write_json({"sonar": [{"encoder": n, "status": "skipped", "reason": reason} for n in names]}, out)
        return
    cpu = torch.device("cpu")
    if "speech_encoder" in encoders:
        SpeechToEmbeddingModelPipeline(encoder=encoders["speech_encoder"], device=cpu)
    if "text_encoder" in encoders:
        TextToEmbeddingModelPipeline(encoder=encoders["text_encoder"], tokenizer=encoders["text_encoder"],
                                     device=cpu)
    write_json({"sonar": [{"encoder": n, "status": "fetched"} for n in names]}, out)
