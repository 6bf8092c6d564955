"""Decoder inputs and labels from pseudo-labels: timestamps kept or stripped, optional previous-text prompts."""

from __future__ import annotations

import re

import numpy as np

from udistil.assets import is_multilingual
from udistil.distill.settings import TrainConfig

TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")


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
        if not keep_timestamps:
            text = TIMESTAMP.sub("", text)
        return self.tok(" " + text.strip(), add_special_tokens=False).input_ids

    def example(self, text: str, prev: str | None, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """(decoder input ids, labels) for one pseudo-label; prompt tokens from the previous text are masked."""
        has_ts = bool(TIMESTAMP.search(text))
        keep_ts = has_ts and rng.random() < self.cfg.timestamp_probability
        seq = (self.prefix_ts if keep_ts else self.prefix) + self.text_ids(text, keep_ts) + [self.eot]
        n_prompt = 0
        if prev and rng.random() < self.cfg.condition_on_prev_probability:
            room = max(0, self.cfg.max_label_length // 2)
            prompt = [self.prev] + self.text_ids(prev, keep_ts)[-room:]
            seq, n_prompt = prompt + seq, len(prompt)
        labels = seq[1:]
        labels = [-100] * max(0, n_prompt - 1) + labels[max(0, n_prompt - 1):]
        return seq[:-1], labels

    def length(self, text: str) -> int:
        return len(self.prefix) + len(self.text_ids(text, False)) + 1
