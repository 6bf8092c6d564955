"""What a decoder is: the options it decodes with, the hypotheses it returns, and the interface the
`Transcriber` schedules batches through. One subclass per model family (`whisper`, `seq2seq`, `ctc`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from udistil.labels.decoding.stats import compression_ratio


@dataclass(kw_only=True)
class DecodeOptions:
    """The config's `decoding` section with its `language` and `task` (no defaults here: the schema fills them)."""

    language: str | None
    task: str
    batch_size: int
    num_beams: int
    max_new_tokens: int
    no_repeat_ngram_size: int
    repetition_guard: bool
    return_timestamps: bool
    loader_workers: int  # DataLoader processes reading lazy clips ahead (0: one prefetch thread)
    with_stats: bool = False  # not a config key: pseudo-labelling asks for the token statistics
    long_form: bool = False  # not a `decoding` key: evaluation's `long_clips: sequential` sets it

    @classmethod
    def from_section(cls, decoding: dict[str, Any], **overrides: Any) -> DecodeOptions:
        """Options from a filled `decoding` section merged with `language` and `task` (the rules' `decoding`)."""
        return cls(**{**decoding, **overrides})


@dataclass
class Hypothesis:
    text: str
    n_tokens: int
    mean_logprob: float = float("nan")
    conf: float = float("nan")
    entropy: float = float("nan")
    compression_ratio: float = float("nan")
    token_ids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, text: str, token_ids: list[int]) -> Hypothesis:
        """A hypothesis without token statistics: its text stripped, its tokens and the text's compression ratio."""
        text = text.strip()
        return cls(text=text, n_tokens=len(token_ids), token_ids=token_ids, compression_ratio=compression_ratio(text))


Prepare = Callable[[list[np.ndarray]], torch.Tensor]
"""What DataLoader workers compute from a batch of clips as they read it (picklable)."""


class Decoder(ABC):
    """One model family's decoding: a loaded model with its tokenizer, batches of 16 kHz clips to hypotheses."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, options: DecodeOptions, device: torch.device,
                 dtype: torch.dtype):
        self.model, self.tokenizer, self.options, self.device, self.dtype = model, tokenizer, options, device, dtype

    @classmethod
    @abstractmethod
    def load(cls, location: str, options: DecodeOptions, *, device: torch.device, dtype: torch.dtype,
             cache: dict[str, Any] | None) -> Decoder:
        """The saved model at `location` on `device` in `dtype`, ready to decode with `options`; `cache`: the
        config's `encoder_cache` section (None: no encoder-state cache; families without encoder states ignore it)."""

    @abstractmethod
    def decode(self, batch: Sequence[np.ndarray]) -> list[Hypothesis]:
        """The hypotheses of a batch of clips, in its order."""

    def prefetch(self) -> Prepare | None:
        """What the loader's workers compute ahead for each batch, handed over by `use_features` (None: nothing)."""
        return None

    def use_features(self, batch: Sequence[np.ndarray], features: Sequence[torch.Tensor]) -> None:
        raise NotImplementedError(f"{type(self).__name__} computes nothing ahead")

    def start(self, n_clips: int) -> None:
        """Called before a run of `n_clips` clips (by default, nothing to do)."""
        return None

    def finish(self) -> None:
        """Called after a run (by default, nothing to do)."""
        return None

    @property
    def encoder_passes(self) -> int:
        """Encoder forward passes counted so far (clips whose encoder states were computed, not read)."""
        return 0


def from_pretrained(location: str, model_class: Any, device: torch.device, dtype: torch.dtype,
                    adapt: Callable[[Any, Any], None] | None = None) -> tuple[torch.nn.Module, Any, Any]:
    """A saved model (as `model_class`), its tokenizer and feature extractor; `adapt(model, tokenizer)` runs
    before the model moves to `device` and `dtype` (in inference mode)."""
    from transformers import AutoFeatureExtractor, AutoTokenizer

    feature_extractor = AutoFeatureExtractor.from_pretrained(location)
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = model_class.from_pretrained(location)
    if adapt is not None:
        adapt(model, tokenizer)
    return model.to(device, dtype).eval(), tokenizer, feature_extractor
