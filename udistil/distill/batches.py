"""The training set and its batches: seeded per-epoch permutations, the schedule of micro-batches per optimiser step,
padded decoder inputs and labels."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from udistil.common.fileio import read_audio, read_id_table
from udistil.corpora.manifest import read_manifest
from udistil.distill.labels import LabelBuilder
from udistil.models.encoder_cache import audio_hash

log = logging.getLogger(__name__)


def load_training_set(subset: str | Path, manifest: str | Path, builder: LabelBuilder, max_label_length: int
                      ) -> tuple[pd.DataFrame, list[dict]]:
    """The subset joined to audio paths, without labels longer than `max_label_length` (listed, not lost)."""
    df = read_id_table(subset, ["pseudo_label"], "training subset")[["id", "pseudo_label"]].merge(
        read_manifest(manifest)[["id", "audio"]], on="id", how="left", validate="one_to_one")
    if df["audio"].isna().any():
        raise ValueError(f"{subset}: ids missing from {manifest}: {df.loc[df.audio.isna(), 'id'].tolist()[:10]}")
    lengths = df["pseudo_label"].map(builder.length)
    too_long = lengths > max_label_length
    skipped = [{"id": u, "reason": f"label of {n} tokens > max_label_length {max_label_length}"}
               for u, n in zip(df.loc[too_long, "id"], lengths[too_long], strict=True)]
    return df[~too_long].reset_index(drop=True), skipped


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(d) for d, _ in examples)
    dec = torch.full((len(examples), width), pad_id, dtype=torch.long)
    lab = torch.full((len(examples), width), -100, dtype=torch.long)
    for i, (d, lbl) in enumerate(examples):
        dec[i, :len(d)] = torch.tensor(d)
        lab[i, :len(lbl)] = torch.tensor(lbl)
    return dec, lab


def batch_indices(n: int, batch_size: int, micro_step: int, seed: int) -> list[int]:
    """The examples of a micro-batch: consecutive slices of per-epoch permutations seeded by (seed, epoch)."""
    start = micro_step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, pos = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        out.extend(perm[pos:pos + batch_size - len(out)].tolist())
    return out


@dataclass(frozen=True)
class Schedule:
    """Which micro-batches each optimiser step draws, and which examples each micro-batch holds.

    Micro-batch `m` goes to process `m mod processes`; a step is `accum` micro-batches on each process. Two modes:

    - a stream (`epochs=False`, training set by `max_steps`): every step is a full global batch, and micro-batches
      run on across epoch boundaries (`batch_indices`);
    - epochs (`epochs=True`, the length set by `epochs`, as run_distillation.py does it): an epoch is one pass over
      the training set in its seeded order, split into micro-batches of `batch_size` (the last one partial). Each
      process gets the same number of micro-batches per epoch; where the epoch's count does not divide evenly, the
      missing ones repeat the first examples of the order (accelerate's even batches). The epoch's last step may
      hold fewer than `accum` micro-batches. A set smaller than the global batch is one short step per epoch, not
      a global batch of repeats.
    """

    n: int
    batch_size: int
    accum: int
    processes: int
    seed: int
    epochs: bool = False

    @property
    def holding(self) -> int:
        """Micro-batches that hold an epoch's examples (the last one partial), before even-batches fills."""
        return math.ceil(self.n / self.batch_size)

    @property
    def per_process(self) -> int:
        """Micro-batches per process in one epoch (epoch mode)."""
        return math.ceil(self.holding / self.processes)

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps per pass over the training set (the same count in both modes)."""
        return math.ceil(self.n / (self.batch_size * self.accum * self.processes))

    def micro_batches(self, step: int, process: int) -> list[int]:
        """The micro-batches process `process` draws in optimiser step `step` (0-based), in order."""
        if not self.epochs:
            return [(step * self.accum + micro) * self.processes + process for micro in range(self.accum)]
        epoch, k = divmod(step, self.steps_per_epoch)
        last = min((k + 1) * self.accum, self.per_process)
        return [(epoch * self.per_process + i) * self.processes + process for i in range(k * self.accum, last)]

    def indices(self, m: int) -> list[int]:
        """The examples of micro-batch `m`: slices of per-epoch permutations seeded by (seed, epoch)."""
        if not self.epochs:
            return batch_indices(self.n, self.batch_size, m, self.seed)
        epoch, j = divmod(m, self.per_process * self.processes)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        if j < self.holding:
            return order[j * self.batch_size:(j + 1) * self.batch_size].tolist()
        return order[:self.batch_size].tolist()  # an even-batches fill


class MicroBatches(torch.utils.data.Dataset):
    """Micro-batch `m` as a pure function of (seed, m): the examples the `schedule` draws, their decoder inputs
    and labels (conditioning drawn from an RNG seeded by (seed, 1, m)), audio, audio hashes and, with a feature
    extractor `fe`, log-mel features. Indexed by micro-batch, so DataLoader workers may prepare it ahead."""

    def __init__(self, *, texts: list[str], paths: list[str], builder: LabelBuilder, schedule: Schedule, fe=None):
        self.texts, self.paths, self.builder, self.fe = texts, paths, builder, fe
        self.schedule = schedule
        self.keys: dict[int, str] = {}  # audio_hash per clip, computed once per process

    def __len__(self) -> int:
        return 2**62  # micro-batches run on over epochs; the sampler says which are drawn

    def __getitem__(self, m: int) -> dict:
        idx = self.schedule.indices(m)
        rng = np.random.default_rng([self.schedule.seed, 1, m])
        examples = [self.builder.example(self.texts[i], self.texts[i - 1] if i > 0 else None, rng) for i in idx]
        dec, labels = collate(examples, self.builder.eot)
        audios = [read_audio(self.paths[i]) for i in idx]
        for i, a in zip(idx, audios, strict=True):
            if i not in self.keys:
                self.keys[i] = audio_hash(a)
        item = {"m": m, "idx": idx, "dec": dec, "labels": labels, "lengths": [len(d) for d, _ in examples],
                "audios": audios, "keys": [self.keys[i] for i in idx]}
        if self.fe is not None:
            out = self.fe(audios, sampling_rate=16000, return_tensors="pt")
            item["features"] = out["input_features"]
        return item


def as_is(item: dict) -> dict:
    """The DataLoader's collate: a dataset item is already a micro-batch (and numpy audio stays numpy)."""
    return item


def seed_worker(worker_id: int) -> None:
    """Seed a DataLoader worker's global RNGs from the loader's seed (batches do not depend on them)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def prefetch_loader(*, data: MicroBatches, micro_batches: list[int], workers: int, seed: int,
                    pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """Micro-batches `micro_batches`, in order, prepared by `workers` processes two ahead each (their tensors in
    page-locked memory with `pin_memory`, for copies to a GPU that do not wait)."""
    return torch.utils.data.DataLoader(data, batch_size=None, sampler=micro_batches, num_workers=workers,
                                       collate_fn=as_is, prefetch_factor=2, worker_init_fn=seed_worker,
                                       generator=torch.Generator().manual_seed(seed), pin_memory=pin_memory)
