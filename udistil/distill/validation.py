"""Validation during distillation: the student's WER on a held-out split every few steps (the learning curve),
the weights of the best evaluation, and early stopping when the WER stops improving.

An evaluation improves on the best so far only when its WER is lower by more than `min_delta` WER points
(`students.validation.min_delta`): ties and smaller gains are noise the validation set cannot resolve. The
Validator measures that noise, the bootstrap standard error of the validation WER over utterances, and warns
when `min_delta` lies below it (a choice between checkpoints would then read noise: raise `min_delta`,
validate on more clips, or train a fixed number of steps with `patience: 0`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from udistil.common.fileio import atomic_path
from udistil.common.normalize import normalizer
from udistil.corpora.manifest import read_clips, read_manifest
from udistil.distill.settings import ValidationConfig
from udistil.distill.stopping import Curve
from udistil.evaluate.metrics import utterance_counts, wer
from udistil.labels.decoding import DecodeOptions, Transcriber, WhisperDecoder
from udistil.models.encoder_cache import Encoder
from udistil.results.intervals import utterance_weights

__all__ = ["Curve", "Validator", "load_best", "save_best", "wer_stderr"]

log = logging.getLogger(__name__)


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
        self.min_delta = cfg.min_delta
        self.warned = False
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
        texts = [self.norm(h.text) for h in hyps]
        self.check_resolution(wer_stderr(self.refs, texts))
        return wer(self.refs, texts)

    def check_resolution(self, stderr: float) -> None:
        """Log the validation WER's standard error; warn once when `min_delta` lies below it."""
        log.info("validation WER standard error %.2f points (bootstrap over %d clips); min_delta %.2f", stderr,
                 len(self.refs), self.min_delta)
        if self.min_delta < stderr and not self.warned:
            self.warned = True
            log.warning("students.validation.min_delta (%.2f) is below the validation WER's standard error (%.2f): "
                        "checkpoint choices may read noise; raise min_delta or validate on more clips", self.min_delta,
                        stderr)


def wer_stderr(refs: list[str], hyps: list[str], resamples: int = 1000, seed: int = 0) -> float:
    """The bootstrap standard error (WER points) of a corpus-level WER over its utterances."""
    counts = np.array([utterance_counts(r, h, "word") for r, h in zip(refs, hyps, strict=True)], dtype=np.int64)
    if not len(counts):
        return float("nan")
    weights = utterance_weights(len(counts), resamples, seed, "validation")
    with np.errstate(invalid="ignore", divide="ignore"):
        values = 100.0 * (weights @ counts[:, 0]) / (weights @ counts[:, 1])
    return float(np.nanstd(values, ddof=1))


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
