"""Whisper: forced language and task, timestamps on request, encoder states through `udistil.models.encoder_cache`
(computed here, not inside `generate`, so they can be cached and reused), and long-form decoding of clips over
30 s window after window (transformers' sequential long-form generation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from udistil.labels.decoding.base import DecodeOptions, Hypothesis, Prepare, from_pretrained
from udistil.labels.decoding.generative import GenerativeDecoder
from udistil.labels.decoding.stats import StepStats
from udistil.models.encoder_cache import Encoder, make_cache

WINDOW_SAMPLES = 30 * 16000  # Whisper's 30 s input window


class WhisperDecoder(GenerativeDecoder):
    """A Whisper model with its `Encoder`; `cache`: the config's `encoder_cache` section (None: no cache, or the
    encoder's own, as distillation's validation passes it)."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, encoder: Encoder, options: DecodeOptions,
                 cache: dict[str, Any] | None = None):
        super().__init__(model, tokenizer, encoder, options)
        self.cache_cfg = cache

    @classmethod
    def load(cls, location: str, options: DecodeOptions, *, device: torch.device, dtype: torch.dtype,
             cache: dict[str, Any] | None) -> WhisperDecoder:
        from udistil.labels.timestamp_logits import TimestampWhisper  # Whisper with vectorised timestamp rules

        model, tokenizer, fe = from_pretrained(location, TimestampWhisper, device, dtype)
        return cls(model, tokenizer, Encoder(model, fe, device, dtype), options, cache)

    def start(self, n_clips: int) -> None:
        """The encoder-state cache, made once the run's size is known (`mode: auto` sizes it)."""
        if self.cache_cfg is not None and self.encoder.cache is None:
            self.encoder.cache = make_cache(cfg=self.cache_cfg, model=self.model, n_clips=n_clips)

    def prefetch(self) -> Prepare | None:
        """Not for long-form decoding, which featurises whole clips."""
        return None if self.options.long_form else super().prefetch()

    def inputs(self, batch: Sequence[np.ndarray]) -> dict[str, Any]:
        from transformers.modeling_outputs import BaseModelOutput

        return {"encoder_outputs": BaseModelOutput(last_hidden_state=self.encoder(batch))}

    def generate_kwargs(self, stats: StepStats | None = None) -> dict[str, Any]:
        o = self.options
        kw = self.shared_kwargs(stats)
        if self.model.generation_config.is_multilingual and o.language:
            kw.update(language=o.language, task=o.task)
        kw["return_timestamps"] = o.return_timestamps
        # one 30 s window per clip: without this, transformers 5.24 starts a second window for a row that emits a
        # timestamp token (a timestamp run, or a weak student without timestamps) and fails on encoder states
        kw["force_unique_generate_call"] = True
        return kw

    def step_stats(self) -> StepStats | None:
        if self.options.with_stats and self.options.num_beams > 1:
            raise ValueError("decoding: token statistics (pseudo-labels) need num_beams: 1 with Whisper "
                             "(transformers' Whisper returns no per-beam logits)")
        return super().step_stats()

    def texts(self, sequences: torch.Tensor) -> list[str]:
        if not self.options.return_timestamps:
            return super().texts(sequences)
        return [self.tokenizer.decode(s, skip_special_tokens=True, decode_with_timestamps=True) for s in sequences]

    @torch.inference_mode()
    def decode(self, batch: Sequence[np.ndarray]) -> list[Hypothesis]:
        if self.options.long_form and max(len(a) for a in batch) > WINDOW_SAMPLES:
            return self.long_form(batch)
        return super().decode(batch)

    def long_form(self, audios: Sequence[np.ndarray]) -> list[Hypothesis]:
        """transformers' sequential long-form generation: the whole clip's features (not cut at 30 s), decoded
        window after window with timestamps (which the long-form algorithm needs); the text is kept without
        them. The encoder runs inside `generate` here, so no state is cached or counted."""
        fe = self.feature_extractor
        feats = fe(list(audios), sampling_rate=16000, return_tensors="pt", truncation=False, padding="longest",
                   return_attention_mask=True)
        if feats["input_features"].shape[-1] < 3000:  # a batch shorter than one window: pad it to one
            feats = fe(list(audios), sampling_rate=16000, return_tensors="pt", return_attention_mask=True)
        kw = {**self.generate_kwargs(), "return_timestamps": True, "condition_on_prev_tokens": False,
              "force_unique_generate_call": False}  # sequential long-form: window after window
        out = self.model.generate(input_features=feats["input_features"].to(self.device, self.dtype),
                                  attention_mask=feats["attention_mask"].to(self.device), **kw)
        sequences = (out if isinstance(out, torch.Tensor) else out["sequences"]).cpu()
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        eos = self.tokenizer.eos_token_id  # Whisper's text tokens precede its specials
        return [Hypothesis.of(text, [t for t in seq if t < eos])
                for seq, text in zip(sequences.tolist(), texts, strict=True)]
