"""Bootstrap intervals for corpus-level WER/CER over training seeds and utterances, paired differences, verdicts
and Holm-Bonferroni adjusted verdicts for a family of comparisons.

A corpus-level rate is a ratio of sums (edit errors / reference length), so utterances are resampled with
replacement and the ratio recomputed (percentile bootstrap). The resample of an evaluation set and split is
drawn once, from a generator seeded by the config seed and the set's name (zlib.crc32, the same in every
process), and shared by every model evaluated on it: each comparison between two models is paired by
construction, and an average over several sets resamples each set independently. Where the evaluation tables
carry a `group` column (the speaker, voice or recording of each utterance), groups are resampled, then the
utterances within each group drawn (the two-stage cluster bootstrap) instead of single utterances. A resample is
kept as integer weights (how often each utterance was drawn), so a rate is `weights @ errors / weights @ lengths`.

Two levels (training seeds, then utterances). A *cell* (one filter's student, say) is trained with several
seeds; its WER is the mean over its seeds of each seed's corpus-level WER. Every resample first draws the
cell's seeds with replacement, independently for every cell (seeds of different cells are different training
runs), then uses the utterance weights shared by every cell; the resampled WER is the mean over the drawn
seeds of their corpus-level WERs on the resampled utterances. A cell of one seed is the one-level bootstrap.

scipy.stats.bootstrap (method="percentile", paired=True) computes the same intervals for one model or one
pair; it cannot share draws across models and sets, so the draws are made here (tests compare both).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from udistil.evaluate.metrics import utterance_counts

UNITS = {"wer": "word", "cer": "char"}
HOLDS, FAILS, OPEN = "holds", "does not hold", "not resolved by this run"
GROUP = "group"  # the manifest and evaluation-table column of the utterance's speaker, voice or recording


def stable_seed(seed: int, *names: str) -> list[int]:
    """Seed material for numpy from the config seed and names (identical in every process)."""
    return [seed, *(zlib.crc32(n.encode()) for n in names)]


def draw_indices(n: int, resamples: int, seed: int, *names: str) -> np.ndarray:
    """(resamples, n) indices drawn with replacement from `n` utterances."""
    return np.random.default_rng(stable_seed(seed, *names)).integers(0, n, size=(resamples, n))


def index_weights(idx: np.ndarray, n: int) -> np.ndarray:
    """(resamples, n) how often each of `n` items occurs in each row of `idx`."""
    weights = np.zeros((idx.shape[0], n), dtype=np.int64)
    np.add.at(weights, (np.arange(idx.shape[0])[:, None], idx), 1)
    return weights


def utterance_weights(n: int, resamples: int, seed: int, *names: str, groups: pd.Series | None = None
                      ) -> np.ndarray:
    """(resamples, n) resample weights of `n` utterances: utterances drawn with replacement, or, with `groups`
    (one label per utterance), the two-stage cluster bootstrap: as many groups as there are drawn with
    replacement, then, for each group drawn, as many of its utterances as it has drawn with replacement from it.
    A set of one group (one voice) is then resampled by utterance, not frozen. Without groups the weights count
    the rows of `draw_indices` (the same resamples)."""
    if groups is None:
        return index_weights(draw_indices(n, resamples, seed, *names), n)
    codes, labels = pd.factorize(pd.Series(groups).astype(str), sort=True)
    drawn = index_weights(draw_indices(len(labels), resamples, seed, *names, GROUP), len(labels))
    rng = np.random.default_rng(stable_seed(seed, *names, GROUP, "within"))
    weights = np.zeros((resamples, n), dtype=np.int64)
    for g in range(len(labels)):  # in sorted label order
        members = np.flatnonzero(codes == g)
        size = len(members)
        weights[:, members] = rng.multinomial(drawn[:, g] * size, np.full(size, 1.0 / size))
    return weights


def seed_draws(seeds: int, resamples: int, seed: int, cell: str) -> np.ndarray:
    """(resamples, seeds) indices of a cell's training seeds drawn with replacement (all 0 for one seed)."""
    if seeds == 1:
        return np.zeros((resamples, 1), dtype=np.int64)
    return np.random.default_rng(stable_seed(seed, "seeds", cell)).integers(0, seeds, size=(resamples, seeds))


def two_level_rates(errors: np.ndarray, lengths: np.ndarray, seed_idx: np.ndarray, weights: np.ndarray
                    ) -> np.ndarray:
    """(resamples,) the mean over drawn seeds of the corpus-level rate (x100) on the resampled utterances.

    errors: (seeds, utterances) per-seed error counts; lengths: (utterances,) reference lengths, the same for
    every seed; seed_idx: (resamples, seeds) from `seed_draws`; weights: (resamples, utterances)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        per_seed = 100.0 * (weights @ np.atleast_2d(errors).T) / (weights @ lengths)[:, None]
    return np.take_along_axis(per_seed, seed_idx, axis=1).mean(axis=1)


def seed_mean_rate(errors: np.ndarray, lengths: np.ndarray) -> float:
    """A cell's point rate: the mean over its seeds of each seed's corpus-level rate (x100)."""
    total = float(lengths.sum())
    if not total:
        return float("nan")
    return float(np.mean(100.0 * np.atleast_2d(errors).sum(axis=1) / total))


def counts(table: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (errors, reference length) from an evaluation table's normalised columns."""
    pairs = [utterance_counts(r or "", h or "", UNITS[metric])
             for r, h in zip(table["reference_norm"], table["hypothesis_norm"], strict=True)]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


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


def bootstrap_p(draws: np.ndarray, boundary: float) -> float:
    """Two-sided bootstrap p-value of `difference = boundary`: twice the smaller share of resamples on either
    side of the boundary (ties count on both sides), at most 1."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return 1.0
    return float(min(1.0, 2 * min(np.mean(finite >= boundary), np.mean(finite <= boundary))))


@dataclass(frozen=True)
class Resampling:
    """Bootstrap settings (the config's `uncertainty` section and its `seed`)."""

    resamples: int
    confidence: float
    seed: int


@dataclass(frozen=True)
class Adjusted:
    """One comparison of a family after Holm's step-down: its p-value, the confidence its interval is given at,
    the interval and the verdict."""

    p: float
    confidence: float
    lo: float
    hi: float
    verdict: str


def holm(family: list[tuple[np.ndarray, float]], confidence: float) -> list[Adjusted]:
    """Holm-Bonferroni adjusted verdicts of a family of claims `difference < boundary`, each given by its
    bootstrap draws of the difference and its boundary (family-wise error 1 - `confidence`).

    The comparisons are ordered by their bootstrap p-value (`bootstrap_p`, ties in the given order); step k
    (from 0) of m decides its comparison with the percentile interval at confidence 1 - alpha / (m - k): holds
    or does not hold when that interval excludes the boundary, as `verdict`. At the first comparison whose
    interval contains its boundary the procedure stops: it and every later one are "not resolved", with
    intervals at that step's confidence. A family of one is the unadjusted interval and verdict."""
    alpha = 1 - confidence
    order = sorted(range(len(family)), key=lambda i: bootstrap_p(*family[i]))
    out: dict[int, Adjusted] = {}
    stopped: float | None = None  # the confidence of the step where the procedure stopped
    for k, i in enumerate(order):
        draws, boundary = family[i]
        level = 1 - alpha / (len(family) - k) if stopped is None else stopped
        lo, hi = interval(draws, level)
        decided = verdict(lo, hi, boundary)
        if stopped is not None or decided == OPEN:
            stopped, decided = level, OPEN
        out[i] = Adjusted(bootstrap_p(draws, boundary), level, lo, hi, decided)
    return [out[i] for i in range(len(family))]


@dataclass
class Bootstrap:
    """Resampled rates of every (cell, set, split) from per-utterance evaluation tables, with shared draws.

    `tables` are keyed by (model, set, split), a model being one trained run; `cells` maps a cell name to the
    models of its training seeds (by default every model is a cell of one seed)."""

    tables: dict[tuple[str, str, str], pd.DataFrame]
    resamples: int
    seed: int
    cells: dict[str, list[str]] = field(default_factory=dict)
    _weights: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _rates: dict[tuple[str, str, str, str], np.ndarray] = field(default_factory=dict)
    _counts: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def runs(self, cell: str) -> list[str]:
        return self.cells.get(cell, [cell])

    def weights(self, corpus: str, split: str) -> np.ndarray:
        """(resamples, utterances) shared by every model on the set and split; groups resampled where the
        tables carry a `group` column."""
        if (corpus, split) not in self._weights:
            tables = [t for (_, c, s), t in self.tables.items() if (c, s) == (corpus, split)]
            ids = [t["id"].tolist() for t in tables]
            if any(i != ids[0] for i in ids):
                raise ValueError(f"evaluation tables of {corpus}/{split} list different utterances")
            groups = tables[0][GROUP] if GROUP in tables[0].columns else None
            self._weights[(corpus, split)] = utterance_weights(len(ids[0]), self.resamples, self.seed, corpus,
                                                               split, groups=groups)
        return self._weights[(corpus, split)]

    def counts(self, model: str, corpus: str, split: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-utterance (errors, reference length) of one run, computed once per model, set, split, metric."""
        key = (model, corpus, split, metric)
        if key not in self._counts:
            self._counts[key] = counts(self.tables[(model, corpus, split)], metric)
        return self._counts[key]

    def cell_counts(self, cell: str, corpus: str, split: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(seeds, utterances) errors and the (utterances,) reference lengths of a cell's runs."""
        pairs = [self.counts(m, corpus, split, metric) for m in self.runs(cell)]
        if any(not np.array_equal(p[1], pairs[0][1]) for p in pairs):
            raise ValueError(f"the runs of {cell} on {corpus}/{split} have different references")
        return np.stack([p[0] for p in pairs]), pairs[0][1]

    def rates(self, cell: str, corpus: str, split: str, metric: str) -> np.ndarray:
        """(resamples,) the cell's seed-mean rates on one set and split (seeds, then utterances resampled)."""
        key = (cell, corpus, split, metric)
        if key not in self._rates:
            errors, lengths = self.cell_counts(cell, corpus, split, metric)
            seeds = seed_draws(len(errors), self.resamples, self.seed, cell)
            self._rates[key] = two_level_rates(errors, lengths, seeds, self.weights(corpus, split))
        return self._rates[key]

    def point(self, cell: str, corpus: str, split: str, metric: str) -> float:
        """The cell's rate (x100) on all utterances, the mean over its seeds, unrounded (for one seed: the
        evaluation's metrics JSON value)."""
        return seed_mean_rate(*self.cell_counts(cell, corpus, split, metric))

    def mean_point(self, cell: str, sets: list[str], split: str, metric: str) -> float:
        """The mean over `sets` of the point rates, like the bench columns."""
        return float(np.mean([self.point(cell, s, split, metric) for s in sets]))

    def mean_rates(self, cell: str, sets: list[str], split: str, metric: str) -> np.ndarray:
        """(resamples,) of the mean over `sets` (each resampled on its own draws), like the bench columns. The
        seed draws of a cell are the same on every set: a resample picks training runs, then utterances."""
        return np.mean([self.rates(cell, s, split, metric) for s in sets], axis=0)
