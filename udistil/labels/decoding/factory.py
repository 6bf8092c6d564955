"""The decoder of a saved model, by its family (the config's `model_type`): the one place that knows them all."""

from __future__ import annotations

import logging
from typing import Any

import torch

from udistil.labels.decoding.base import DecodeOptions, Decoder
from udistil.labels.decoding.ctc import CTCDecoder
from udistil.labels.decoding.seq2seq import SeamlessDecoder, Seq2SeqDecoder
from udistil.labels.decoding.whisper import WhisperDecoder

log = logging.getLogger(__name__)

FAMILIES: dict[str, type[Decoder]] = {
    "whisper": WhisperDecoder,
    "seamless_m4t": SeamlessDecoder,
    "seamless_m4t_v2": SeamlessDecoder,
    "wav2vec2": CTCDecoder,
}
"""Decoder classes by `model_type`. Another model type is decoded as a `Seq2SeqDecoder` only when transformers
knows it as a speech sequence-to-sequence model (`AutoModelForSpeechSeq2Seq`); any other type is an error."""


def decoder_class(model_type: str, location: str) -> type[Decoder]:
    """The decoder of a `model_type`: its family's, the generic sequence-to-sequence one for a speech-to-text type
    transformers knows, else a ValueError naming the model and the families."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES

    if model_type in FAMILIES:
        return FAMILIES[model_type]
    if model_type in MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES:
        log.info("%s: model type '%s' decoded by transformers' generic speech seq2seq generate", location,
                 model_type)
        return Seq2SeqDecoder
    raise ValueError(f"{location}: model type '{model_type}' is not a speech recognition model this workflow can "
                     f"decode (families: {sorted(FAMILIES)}, or any of transformers' speech sequence-to-sequence "
                     f"types)")


def load_decoder(location: str, options: DecodeOptions, *, device: torch.device, dtype: torch.dtype,
                 cache: dict[str, Any] | None) -> Decoder:
    """The saved model at `location` loaded by its family's decoder, on `device` in `dtype`; `cache`: the config's
    `encoder_cache` section (None: no encoder-state cache)."""
    from transformers import AutoConfig

    kind = AutoConfig.from_pretrained(location).model_type
    return decoder_class(kind, location).load(location, options, device=device, dtype=dtype, cache=cache)
