"""Other sequence-to-sequence speech models (e.g. SeamlessM4T v1 and v2): `generate` from their input features,
with the target language where the model takes one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from udistil.labels.decoding.base import DecodeOptions, from_pretrained
from udistil.labels.decoding.generative import GenerativeDecoder
from udistil.labels.decoding.stats import StepStats
from udistil.models.encoder_cache import Encoder

SEAMLESS_LANG = {"en": "eng", "ar": "arb", "fr": "fra", "de": "deu", "es": "spa", "sw": "swh"}
"""SeamlessM4T's target-language codes of the config's `language`; another code is used as given."""


class Seq2SeqDecoder(GenerativeDecoder):
    """A transformers speech-to-text model (`AutoModelForSpeechSeq2Seq`); its encoder runs inside `generate`."""

    @classmethod
    def load(cls, location: str, options: DecodeOptions, *, device: torch.device, dtype: torch.dtype,
             cache: dict[str, Any] | None) -> Seq2SeqDecoder:
        """`cache` is not used: only Whisper's encoder states are cached."""
        from transformers import AutoModelForSpeechSeq2Seq

        model, tokenizer, fe = from_pretrained(location, AutoModelForSpeechSeq2Seq, device, dtype)
        return cls(model, tokenizer, Encoder(model, fe, device, dtype), options)

    def inputs(self, batch: Sequence[np.ndarray]) -> dict[str, Any]:
        return {"input_features": self.features(batch)}

    def generate_kwargs(self, stats: StepStats | None = None) -> dict[str, Any]:
        return self.shared_kwargs(stats)


class SeamlessDecoder(Seq2SeqDecoder):
    """SeamlessM4T (v1, v2): speech to text in the configured language."""

    def generate_kwargs(self, stats: StepStats | None = None) -> dict[str, Any]:
        kw = self.shared_kwargs(stats)
        if self.options.language:
            kw["tgt_lang"] = SEAMLESS_LANG.get(self.options.language, self.options.language)
        return kw
