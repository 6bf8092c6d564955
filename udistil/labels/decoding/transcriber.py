"""Scheduling of a decoder's work: length-sorted batches read ahead, resumption (clips to skip), timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from udistil.common.clips import batches, clip_length
from udistil.common.devices import pick_device, pick_dtype
from udistil.labels.decoding.base import DecodeOptions, Decoder, Hypothesis
from udistil.labels.decoding.factory import load_decoder


class Transcriber:
    """Transcribe batches of 16 kHz clips with one loaded model (its `decoder`)."""

    def __init__(self, decoder: Decoder):
        self.decoder = decoder
        self.decode_seconds = 0.0

    @classmethod
    def load(cls, location: str, options: DecodeOptions, *, device: str, precision: str,
             cache: dict[str, Any] | None) -> Transcriber:
        """The saved model at `location` on the config's `device` and `precision`; `cache`: the config's
        `encoder_cache` section, or None for no encoder-state cache."""
        torch_device = pick_device(device)
        return cls(load_decoder(location, options, device=torch_device, dtype=pick_dtype(precision, torch_device),
                                cache=cache))

    @property
    def model(self) -> torch.nn.Module:
        return self.decoder.model

    @property
    def device(self) -> torch.device:
        return self.decoder.device

    @property
    def encoder_passes(self) -> int:
        return self.decoder.encoder_passes

    def transcribe(self, audios: Sequence[np.ndarray], desc: str = "decode",
                   on_batch: Callable[[list[int], list[Hypothesis]], None] | None = None,
                   skip: set[int] | None = None) -> list[Hypothesis | None]:
        """Transcribe clips in length-sorted batches; results come back in input order.

        `audios` are clips in memory or lazy `udistil.common.clips.Clips`: those are sorted by their manifest duration
        and read batch by batch, a few batches ahead (`loader_workers`), so only a window of audio is held.
        `on_batch(indices, hypotheses)` is called after each batch (for flushing); indices in `skip` are
        not decoded (already done by an earlier, interrupted run) and come back as None.
        """
        skip = skip or set()
        self.decoder.start(len(audios))
        order = sorted((i for i in range(len(audios)) if i not in skip), key=lambda i: -clip_length(audios, i))
        results: list[Hypothesis | None] = [None] * len(audios)
        bs = self.decoder.options.batch_size
        start = time.perf_counter()
        with tqdm(total=len(order), desc=desc, unit="clip", mininterval=5) as bar:
            plan = [order[b:b + bs] for b in range(0, len(order), bs)]
            for idx, batch, features in batches(audios, plan, workers=self.decoder.options.loader_workers,
                                                prepare=self.decoder.prefetch()):
                if features is not None:
                    self.decoder.use_features(batch, features)
                hyps = self.decoder.decode(batch)
                for i, h in zip(idx, hyps, strict=True):
                    results[i] = h
                if on_batch:
                    on_batch(idx, hyps)
                bar.update(len(idx))
        self.decoder.finish()
        self.decode_seconds += time.perf_counter() - start
        return results
