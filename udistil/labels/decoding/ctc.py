"""CTC models (wav2vec2, e.g. MMS): greedy CTC decoding, with the language adapter and vocabulary of the
configured language where the model has them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from udistil.labels.decoding.base import DecodeOptions, Decoder, Hypothesis, from_pretrained

MMS_LANG = {"en": "eng", "ar": "ara", "fr": "fra", "de": "deu", "es": "spa", "sw": "swh"}
"""MMS adapter and vocabulary codes (ISO 639-3) of the config's `language`; another code is used as given."""


def language_code(language: str | None) -> str | None:
    """The adapter and vocabulary code of the configured language (None: no language configured)."""
    return MMS_LANG.get(language, language) if language else None


def set_language(model: torch.nn.Module, tokenizer: Any, language: str | None) -> None:
    """A CTC model with language adapters (MMS) loads the configured language's adapter, and a tokenizer with one
    vocabulary per language switches to that language's; a model without either is left as is."""
    code = language_code(language)
    nested = isinstance(getattr(tokenizer, "vocab", None), dict) and all(
        isinstance(v, dict) for v in tokenizer.vocab.values())
    has_adapters = getattr(model.config, "adapter_attn_dim", None) is not None
    if code is None:
        if has_adapters or nested:
            raise ValueError("config key 'language': a CTC model with language adapters (MMS) needs one")
        return
    if nested:
        tokenizer.set_target_lang(code)
    if has_adapters:
        model.load_adapter(code)


class CTCDecoder(Decoder):
    """A `Wav2Vec2ForCTC` model with its feature extractor (raw, normalised samples; no encoder states)."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, feature_extractor: Any, options: DecodeOptions,
                 device: torch.device, dtype: torch.dtype):
        super().__init__(model, tokenizer, options, device, dtype)
        self.feature_extractor = feature_extractor

    @classmethod
    def load(cls, location: str, options: DecodeOptions, *, device: torch.device, dtype: torch.dtype,
             cache: dict[str, Any] | None) -> CTCDecoder:
        """`cache` is not used: only Whisper's encoder states are cached."""
        from transformers import Wav2Vec2ForCTC

        model, tokenizer, fe = from_pretrained(location, Wav2Vec2ForCTC, device, dtype,
                                               adapt=lambda m, t: set_language(m, t, options.language))
        return cls(model, tokenizer, fe, options, device, dtype)

    @property
    def language(self) -> str | None:
        return language_code(self.options.language)

    @torch.inference_mode()
    def decode(self, batch: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Greedy CTC decoding: the most likely token per frame, repeats merged and blanks dropped."""
        feats = self.feature_extractor(list(batch), sampling_rate=16000, return_tensors="pt", padding=True,
                                       return_attention_mask=True)
        mask = feats.get("attention_mask")
        logits = self.model(feats["input_values"].to(self.device, self.dtype),
                            attention_mask=None if mask is None else mask.to(self.device)).logits
        best = logits.argmax(-1).cpu()
        blank = self.tokenizer.pad_token_id
        if mask is not None:  # frames of padding decode to the blank
            frames = self.model._get_feat_extract_output_lengths(mask.sum(-1)).tolist()
            for i, n in enumerate(frames):
                best[i, int(n):] = blank
        texts = self.tokenizer.batch_decode(best)
        return [Hypothesis.of(text, [t for j, t in enumerate(row) if t != blank and (j == 0 or row[j - 1] != t)])
                for row, text in zip(best.tolist(), texts, strict=True)]
