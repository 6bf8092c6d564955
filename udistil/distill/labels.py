"""Decoder inputs and labels from pseudo-labels: timestamps kept or stripped, optional previous-text prompts.

As distil-whisper's run_distillation.py (and the uDistil authors' fork): a pseudo-label that carries timestamp
tokens keeps them with probability `timestamp_probability`, after the prefix without `<|notimestamps|>`;
otherwise they are stripped and the prefix ends in `<|notimestamps|>`. A previous-text prompt never carries
timestamps.
"""

from __future__ import annotations

import numpy as np

from udistil.distill.settings import TrainConfig
from udistil.labels.timestamps import TIMESTAMP, has_timestamps, strip_timestamps
from udistil.models.assets import is_multilingual


class LabelBuilder:
    """Decoder inputs and labels from pseudo-labels, with timestamp and previous-text conditioning."""

    def __init__(self, tokenizer, cfg: TrainConfig):
        self.tok = tokenizer
        self.cfg = cfg
        lang = cfg.language if is_multilingual(tokenizer) else None  # English-only models take no language token
        tokenizer.set_prefix_tokens(language=lang, task=cfg.task, predict_timestamps=False)
        self.prefix = list(tokenizer.prefix_tokens)
        tokenizer.set_prefix_tokens(language=lang, task=cfg.task, predict_timestamps=True)
        self.prefix_ts = list(tokenizer.prefix_tokens)
        self.eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        self.prev = tokenizer.convert_tokens_to_ids("<|startofprev|>")

    def text_ids(self, text: str, keep_timestamps: bool) -> list[int]:
        """Token ids of the text (a leading space, as Whisper writes a segment's first word); timestamp tokens
        stay as their own ids when `keep_timestamps`, else they are removed."""
        text = text.strip() if keep_timestamps else strip_timestamps(text).strip()
        starts_with_timestamp = TIMESTAMP.match(text) is not None
        return self.tok(text if starts_with_timestamp else " " + text, add_special_tokens=False).input_ids

    def example(self, text: str, prev: str | None, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """(decoder input ids, labels) for one pseudo-label; prompt tokens from the previous text are masked."""
        keep_ts = has_timestamps(text) and rng.random() < self.cfg.timestamp_probability
        seq = (self.prefix_ts if keep_ts else self.prefix) + self.text_ids(text, keep_ts) + [self.eot]
        n_prompt = 0
        if prev and rng.random() < self.cfg.condition_on_prev_probability:
            room = max(0, self.cfg.max_label_length // 2)
            prompt = [self.prev] + self.text_ids(prev, False)[-room:]
            seq, n_prompt = prompt + seq, len(prompt)
        labels = seq[1:]
        labels = [-100] * max(0, n_prompt - 1) + labels[max(0, n_prompt - 1):]
        return seq[:-1], labels

    def length(self, text: str) -> int:
        return len(self.prefix) + len(self.text_ids(text, False)) + 1
