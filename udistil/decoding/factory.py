"""The decoder of a saved model, by its family (the config's `model_type`): the one place that knows them all."""

from __future__ import annotations

from typing import Any

import torch

from udistil.decoding.base import DecodeOptions, Decoder
from udistil.decoding.ctc import CTCDecoder
from udistil.decoding.seq2seq import SeamlessDecoder, Seq2SeqDecoder
from udistil.decoding.whisper import WhisperDecoder

FAMILIES: dict[str, type[WhisperDecoder | Seq2SeqDecoder | CTCDecoder]] = {
    "whisper": WhisperDecoder,
    "seamless_m4t": SeamlessDecoder,
    "seamless_m4t_v2": SeamlessDecoder,
    "wav2vec2": CTCDecoder,
}
"""Decoder classes by `model_type`; any other speech-to-text model is decoded as a `Seq2SeqDecoder`."""


def load_decoder(location: str, options: DecodeOptions, *, device: torch.device, dtype: torch.dtype,
                 cache: dict[str, Any] | None) -> Decoder:
    """The saved model at `location` loaded by its family's decoder, on `device` in `dtype`; `cache`: the config's
    `encoder_cache` section (None: no encoder-state cache)."""
    from transformers import AutoConfig

    kind = AutoConfig.from_pretrained(location).model_type
    return FAMILIES.get(kind, Seq2SeqDecoder).load(location, options, device=device, dtype=dtype, cache=cache)
