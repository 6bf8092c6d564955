"""The training set and its batches: seeded per-epoch permutations, padded decoder inputs and labels."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from udistil.distill.labels import LabelBuilder

log = logging.getLogger(__name__)


def load_training_set(subset: str | Path, manifest: str | Path, builder: LabelBuilder, max_label_length: int
                      ) -> tuple[pd.DataFrame, list[dict]]:
    """The subset joined to audio paths, without labels longer than `max_label_length` (listed, not lost)."""
    from udistil.manifest import read_manifest

    df = pd.read_parquet(subset)[["id", "pseudo_label"]].merge(read_manifest(manifest)[["id", "audio"]], on="id",
                                                               how="left", validate="one_to_one")
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
