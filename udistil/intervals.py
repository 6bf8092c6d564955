"""Bootstrap intervals over utterances for corpus-level WER/CER, paired differences and verdicts.

A corpus-level rate is a ratio of sums (edit errors / reference length), so utterances are resampled with
replacement and the ratio recomputed (percentile bootstrap). The resample indices of an evaluation set and
split are drawn once, from a generator seeded by the config seed and the set's name (zlib.crc32, the same in
every process), and shared by every model evaluated on it: each comparison between two models is paired by
construction, and an average over several sets resamples each set independently. scipy.stats.bootstrap
(method="percentile", paired=True) computes the same intervals for one model or one pair; it cannot share
draws across models and sets, so the draws are made here (tests compare both).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from udistil.metrics import utterance_counts

UNITS = {"wer": "word", "cer": "char"}
HOLDS, FAILS, OPEN = "holds", "does not hold", "not resolved at this size"


def stable_seed(seed: int, *names: str) -> list[int]:
    """Seed material for numpy from the config seed and names (identical in every process)."""
    return [seed, *(zlib.crc32(n.encode()) for n in names)]


def draw_indices(n: int, resamples: int, seed: int, *names: str) -> np.ndarray:
    """(resamples, n) indices drawn with replacement from `n` utterances."""
    return np.random.default_rng(stable_seed(seed, *names)).integers(0, n, size=(resamples, n))


def counts(table: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (errors, reference length) from an evaluation table's normalised columns."""
    pairs = [utterance_counts(r or "", h or "", UNITS[metric])
             for r, h in zip(table["reference_norm"], table["hypothesis_norm"], strict=True)]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def resampled_rate(errors: np.ndarray, lengths: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The corpus-level rate (x100) of every resample: one value per row of `idx`."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * errors[idx].sum(axis=1) / lengths[idx].sum(axis=1)


def interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap values (NaN resamples, e.g. all-empty references, dropped)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return float(lo), float(hi)


def verdict(lo: float, hi: float, boundary: float) -> str:
    """For a claim that a difference lies below `boundary`: holds when the whole interval does, does not hold
    when the whole interval lies above it, not resolved when the (closed) interval contains the boundary."""
    if hi < boundary:
        return HOLDS
    if lo > boundary:
        return FAILS
    return OPEN


@dataclass
class Bootstrap:
    """Resampled rates of every (model, set, split) from per-utterance evaluation tables, with shared draws."""

    tables: dict[tuple[str, str, str], pd.DataFrame]
    resamples: int
    seed: int
    _draws: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _rates: dict[tuple[str, str, str, str], np.ndarray] = field(default_factory=dict)
    _counts: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def draws(self, corpus: str, split: str) -> np.ndarray:
        if (corpus, split) not in self._draws:
            ids = [t["id"].tolist() for (_, c, s), t in self.tables.items() if (c, s) == (corpus, split)]
            if any(i != ids[0] for i in ids):
                raise ValueError(f"evaluation tables of {corpus}/{split} list different utterances")
            self._draws[(corpus, split)] = draw_indices(len(ids[0]), self.resamples, self.seed, corpus, split)
        return self._draws[(corpus, split)]

    def rates(self, model: str, corpus: str, split: str, metric: str) -> np.ndarray:
        """(resamples,) corpus-level rates of one model on one set and split."""
        key = (model, corpus, split, metric)
        if key not in self._rates:
            self._rates[key] = resampled_rate(*self.counts(model, corpus, split, metric), self.draws(corpus, split))
        return self._rates[key]

    def counts(self, model: str, corpus: str, split: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-utterance (errors, reference length), computed once per model, set, split and metric."""
        key = (model, corpus, split, metric)
        if key not in self._counts:
            self._counts[key] = counts(self.tables[(model, corpus, split)], metric)
        return self._counts[key]

    def point(self, model: str, corpus: str, split: str, metric: str) -> float:
        """The corpus-level rate (x100) on all utterances: the evaluation's metrics JSON value, unrounded."""
        errors, lengths = self.counts(model, corpus, split, metric)
        return 100.0 * float(errors.sum()) / float(lengths.sum()) if lengths.sum() else float("nan")

    def mean_point(self, model: str, sets: list[str], split: str, metric: str) -> float:
        """The mean over `sets` of the point rates, like the bench columns."""
        return float(np.mean([self.point(model, s, split, metric) for s in sets]))

    def mean_rates(self, model: str, sets: list[str], split: str, metric: str) -> np.ndarray:
        """(resamples,) of the mean over `sets` (each resampled on its own draws), like the bench columns."""
        return np.mean([self.rates(model, s, split, metric) for s in sets], axis=0)
