"""Validation during distillation: the student's WER on a held-out split every few steps (the learning curve),
the weights of the best evaluation, and early stopping when the WER stops improving."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from udistil.decoding import DecodeOptions, Transcriber, WhisperDecoder
from udistil.encoder_cache import Encoder
from udistil.fileio import atomic_path
from udistil.manifest import read_clips, read_manifest
from udistil.metrics import wer
from udistil.normalize import normalizer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class ValidationConfig:
    """The config's `students.validation` section (its `set`/`split` resolved to `manifest` by the rule)."""

    every: int  # optimiser steps between evaluations; the untrained cut is evaluated first
    patience: int  # evaluations without a lower WER before training stops (0: never stops early)
    clips: int  # the first clips of the split (0: all)
    normalizer: str
    decoding: dict[str, Any]  # a `decoding` section with `language` and `task`


@dataclass
class Curve:
    """Validation WER against optimiser steps; the best is the lowest WER, the earliest on a tie."""

    rows: list[dict[str, float]] = field(default_factory=list)

    def add(self, step: int, wer_value: float) -> bool:
        """Record an evaluation; True when it is the new best."""
        self.rows.append({"step": step, "wer": round(wer_value, 4)})
        return self.best()["step"] == step

    def best(self) -> dict[str, float]:
        return min(self.rows, key=lambda r: (r["wer"], r["step"]))

    def stale(self) -> int:
        """Evaluations since the best one."""
        return len(self.rows) - 1 - self.rows.index(self.best())

    def should_stop(self, patience: int) -> bool:
        return patience > 0 and self.stale() >= patience


class Validator:
    """Greedy decoding of the validation clips with the student in memory, through `encoder` (the teacher's,
    with its cache, when the student shares it; otherwise the student's own, uncached)."""

    def __init__(self, cfg: ValidationConfig, manifest: str | Path, model: torch.nn.Module, encoder: Encoder,
                 tokenizer: Any):
        table = read_manifest(manifest)
        if cfg.clips:
            table = table.iloc[:cfg.clips]
        if table.empty or table["text"].isna().any():
            raise ValueError(f"{manifest}: validation needs clips with reference text")
        self.norm = normalizer(cfg.normalizer)
        self.refs = [self.norm(t) for t in table["text"]]
        self.audios = read_clips(table["audio"], str(manifest))
        options = DecodeOptions.from_section(cfg.decoding)
        self.transcriber = Transcriber(WhisperDecoder(model, tokenizer, encoder, options))

    @torch.no_grad()
    def __call__(self) -> float:
        model = self.transcriber.model
        training, model.config.use_cache = model.training, True  # training turns the key-value cache off
        model.eval()
        try:
            hyps = self.transcriber.transcribe(self.audios, desc="validate")
        finally:
            model.config.use_cache = False
            model.train(training)
        return wer(self.refs, [self.norm(h.text) for h in hyps])


def save_best(model: torch.nn.Module, path: Path, step: int) -> None:
    """The trainable weights at `step`, written atomically (restored by `load_best` when training ends)."""
    state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    with atomic_path(path) as tmp:
        torch.save({"step": step, "state": state}, tmp)


def load_best(model: torch.nn.Module, path: Path, step: int) -> None:
    """Put the weights saved at `step` back into `model`; a file from another step is an error."""
    saved = torch.load(path, map_location="cpu")
    if saved["step"] != step:
        raise RuntimeError(f"{path} holds step {saved['step']}, but the validation curve's best is step {step}")
    missing = set(saved["state"]) - {n for n, _ in model.named_parameters()}
    if missing:
        raise RuntimeError(f"{path}: parameters {sorted(missing)[:5]} are not in the student")
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in saved["state"]:
                p.copy_(saved["state"][n].to(p.device))
    log.info("kept the weights of step %d (the lowest validation WER)", step)
