"""Bootstrap intervals for corpus-level WER/CER over training seeds and utterances, paired differences, verdicts,
Holm-Bonferroni adjusted verdicts and p-values for a family (whose members may be intersection-union tests of
several comparisons), the resamples a family needs, and the difference a test detects with a given power.

A corpus-level rate is a ratio of sums (edit errors / reference length), so utterances are resampled with
replacement and the ratio recomputed (percentile bootstrap). The resample of an evaluation set and split is
drawn once, from a generator seeded by the config seed and the set's name (zlib.crc32, the same in every
process), and shared by every model evaluated on it: each comparison between two models is paired by
construction, and an average over several sets resamples each set independently. Where the evaluation tables
carry a `group` column (the speaker, voice or recording of each utterance), a set's resample mode
(`RESAMPLE_MODES`, the config's `evaluation.resample`) says what is drawn: `groups` (the default: groups are
resampled, then the utterances within each group drawn, the two-stage cluster bootstrap), `within_groups` (the
groups are fixed strata: each keeps its size and its utterances are drawn within it) or `utterances` (the groups
ignored). A resample is kept as integer weights (how often each utterance was drawn), so a rate is
`weights @ errors / weights @ lengths`.

Two levels (training seeds, then utterances). A *cell* (one filter's student, say) is trained with several
seeds; its WER is the mean over its seeds of each seed's corpus-level WER. Every resample first draws the
cell's seeds with replacement, independently for every cell (seeds of different cells are different training
runs), then uses the utterance weights shared by every cell; the resampled WER is the mean over the drawn
seeds of their corpus-level WERs on the resampled utterances. A cell of one seed is the one-level bootstrap.

scipy.stats.bootstrap (method="percentile", paired=True) computes the same intervals for one model or one
pair; it cannot share draws across models and sets, so the draws are made here (tests compare both).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from statistics import NormalDist

import numpy as np
import pandas as pd

from udistil.evaluate.metrics import utterance_counts

UNITS = {"wer": "word", "cer": "char"}
HOLDS, FAILS, OPEN = "holds", "does not hold", "not resolved by this run"
GROUP = "group"  # the manifest and evaluation-table column of the utterance's speaker, voice or recording
GROUPS, WITHIN_GROUPS, UTTERANCES = "groups", "within_groups", "utterances"
RESAMPLE_MODES = (GROUPS, WITHIN_GROUPS, UTTERANCES)
"""What a set's resample draws where its utterances carry groups: the groups, then utterances within each drawn
group (groups sampled from a larger population: speakers, recordings); the utterances within each group, the
groups fixed (strata fixed by design: the pool's own voices); or the utterances, groups ignored."""
TAIL_DRAWS = 20
"""Resamples wanted beyond each end of the narrowest interval a family of claims is decided with (`resamples_for`):
with fewer, an end is set by a handful of draws and moves with the seed."""


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


def utterance_weights(n: int, resamples: int, seed: int, *names: str, groups: pd.Series | None = None,
                      mode: str = GROUPS) -> np.ndarray:
    """(resamples, n) resample weights of `n` utterances: utterances drawn with replacement, or, with `groups`
    (one label per utterance) and `mode` "groups", the two-stage cluster bootstrap: as many groups as there are
    drawn with replacement, then, for each group drawn, as many of its utterances as it has drawn with replacement
    from it (a set of one group, one voice, is then resampled by utterance, not frozen). With `mode`
    "within_groups" every group is kept once and its utterances drawn within it (stratified); with "utterances"
    the groups are ignored. Without groups the weights count the rows of `draw_indices` (the same resamples)."""
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"resample mode {mode!r}: not one of {RESAMPLE_MODES}")
    if groups is None or mode == UTTERANCES:
        return index_weights(draw_indices(n, resamples, seed, *names), n)
    codes, labels = pd.factorize(pd.Series(groups).astype(str), sort=True)
    if mode == WITHIN_GROUPS:
        drawn = np.ones((resamples, len(labels)), dtype=np.int64)
        rng = np.random.default_rng(stable_seed(seed, *names, GROUP, "strata"))
    else:
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
    return min(side_p(draws, boundary, below=True), side_p(draws, boundary, below=False))


def side_p(draws: np.ndarray, boundary: float, below: bool) -> float:
    """The p-value, on the two-sided scale of `bootstrap_p`, for concluding that the difference lies below
    (`below`) or above `boundary`: twice the share of resamples on the other side (ties count), at most 1. A
    percentile interval at confidence 1 - a lies wholly on that side when this is below a (up to ties)."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return 1.0
    other = finite >= boundary if below else finite <= boundary
    return float(min(1.0, 2 * np.mean(other)))


def member_p(member: list[tuple[np.ndarray, float]]) -> float:
    """The p-value of a family member that claims every one of its comparisons lies below its boundary (an
    intersection-union test): it holds when all do, so its p for "holds" is the largest of theirs; it fails when
    any one lies above, which needs the smallest of theirs times their number (Bonferroni within the member). The
    smaller of the two; for one comparison, `bootstrap_p`."""
    holds = max(side_p(d, b, below=True) for d, b in member)
    fails = min(1.0, len(member) * min(side_p(d, b, below=False) for d, b in member))
    return min(holds, fails)


def resamples_for(confidence: float, members: int, at_least: int = 0, tail: int = TAIL_DRAWS) -> int:
    """Resamples that leave `tail` draws beyond each end of the narrowest interval of a Holm family of `members`
    (its first step, at confidence 1 - (1 - `confidence`) / members), and never fewer than `at_least`."""
    alpha = (1 - confidence) / max(members, 1)
    return max(at_least, math.ceil(round(2 * tail / alpha, 6)))


def detectable_difference(se: float, confidence: float, power: float = 0.8) -> float:
    """The smallest true distance from its boundary at which a claim decided by a two-sided percentile interval at
    `confidence` (its upper end below the boundary: a one-sided test at (1 - confidence) / 2) is resolved with
    probability `power`, for a difference of bootstrap standard error `se` (normal approximation):
    (z_{1 - (1 - confidence) / 2} + z_{power}) x se."""
    z = NormalDist().inv_cdf
    return (z(1 - (1 - confidence) / 2) + z(power)) * se


def holm_adjusted(p: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values: for the comparison at step k (from 0) of m in ascending order of p,
    the largest over steps j <= k of min(1, (m - j) p_(j)) (ties in the given order)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - k) * p[i]))
        out[i] = running
    return out


@dataclass(frozen=True)
class Resampling:
    """Bootstrap settings (the config's `uncertainty` section and its `seed`)."""

    resamples: int
    confidence: float
    seed: int


@dataclass(frozen=True)
class Adjusted:
    """One member of a family after Holm's step-down: its bootstrap p-value and Holm-adjusted p-value, the
    confidence of its step (`level`), its verdict, the interval of each of its comparisons at that level
    (`bounds`), and the deciding comparison (`deciding`) with its interval (`lo`, `hi`) at `confidence` (the
    step's level, or the member's stricter Bonferroni level when one comparison lying above its boundary fails a
    member of several)."""

    p: float
    confidence: float
    lo: float
    hi: float
    verdict: str
    p_adjusted: float = float("nan")
    level: float = float("nan")
    bounds: tuple[tuple[float, float], ...] = ()
    deciding: int = 0


def decide_member(member: list[tuple[np.ndarray, float]], level: float) -> tuple[str, int, float, float, float,
                                                                                tuple[tuple[float, float], ...]]:
    """(verdict, deciding comparison, its confidence, lo, hi, every comparison's interval at `level`) of a member
    at one Holm step: holds when every interval at `level` lies below its boundary; does not hold when one lies
    above it at 1 - (1 - level) / (its number of comparisons); else not resolved. The deciding comparison is the
    failing one furthest above its boundary, else the one whose interval reaches furthest up."""
    bounds = tuple(interval(d, level) for d, _ in member)
    strict = 1 - (1 - level) / len(member)
    above = [interval(d, strict) for d, _ in member]
    failing = [i for i, (lo, _) in enumerate(above) if lo > member[i][1]]
    if failing:
        i = max(failing, key=lambda j: above[j][0] - member[j][1])
        return FAILS, i, strict, *above[i], bounds
    i = max(range(len(member)), key=lambda j: bounds[j][1] - member[j][1])
    decided = HOLDS if all(hi < b for (_, hi), (_, b) in zip(bounds, member, strict=True)) else OPEN
    return decided, i, level, *bounds[i], bounds


def holm_members(family: list[list[tuple[np.ndarray, float]]], confidence: float) -> list[Adjusted]:
    """Holm-Bonferroni adjusted verdicts of a family whose members each claim that every one of its differences
    lies below its boundary, each comparison given by its bootstrap draws and its boundary (family-wise error
    1 - `confidence`). A member of several comparisons is one intersection-union test: all its comparisons are
    judged at the member's own level, with no correction among them (`member_p`, `decide_member`).

    The members are ordered by their p-value (ties in the given order); step k (from 0) of m decides its member
    at confidence 1 - alpha / (m - k). At the first member that is not resolved the procedure stops: it and every
    later one are "not resolved", with intervals at that step's confidence. A family of one is the unadjusted
    interval and verdict."""
    alpha = 1 - confidence
    p = [member_p(m) for m in family]
    adjusted = holm_adjusted(p)
    out: dict[int, Adjusted] = {}
    stopped: float | None = None  # the confidence of the step where the procedure stopped
    for k, i in enumerate(sorted(range(len(family)), key=lambda j: p[j])):
        level = 1 - alpha / (len(family) - k) if stopped is None else stopped
        decided, deciding, conf, lo, hi, bounds = decide_member(family[i], level)
        if stopped is not None or decided == OPEN:
            stopped = level
            if decided != OPEN:  # decided at this level, but Holm stopped before it: shown at the level
                deciding = max(range(len(bounds)), key=lambda j: bounds[j][1] - family[i][j][1])
                conf, (lo, hi) = level, bounds[deciding]
            decided = OPEN
        out[i] = Adjusted(p[i], conf, lo, hi, decided, adjusted[i], level, bounds, deciding)
    return [out[i] for i in range(len(family))]


def holm(family: list[tuple[np.ndarray, float]], confidence: float) -> list[Adjusted]:
    """`holm_members` for a family of single comparisons `difference < boundary`: each decided by its percentile
    interval at its step's confidence, holds or does not hold when that interval excludes the boundary."""
    return holm_members([[c] for c in family], confidence)


@dataclass
class Bootstrap:
    """Resampled rates of every (cell, set, split) from per-utterance evaluation tables, with shared draws.

    `tables` are keyed by (model, set, split), a model being one trained run; `cells` maps a cell name to the
    models of its training seeds (by default every model is a cell of one seed); `modes` a set's resample mode
    where its tables carry groups (`RESAMPLE_MODES`; by default "groups")."""

    tables: dict[tuple[str, str, str], pd.DataFrame]
    resamples: int
    seed: int
    cells: dict[str, list[str]] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    _weights: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _rates: dict[tuple[str, str, str, str], np.ndarray] = field(default_factory=dict)
    _counts: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, counts: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]],
                    ids: dict[tuple[str, str, str], pd.DataFrame], resamples: int, seed: int,
                    cells: dict[str, list[str]] | None = None, modes: dict[str, str] | None = None) -> Bootstrap:
        """A bootstrap from per-utterance (errors, reference length) keyed by (model, set, split, metric) and,
        keyed by (model, set, split), each evaluation's `id` (and `group`) column: the same draws and rates as
        from the evaluation tables (udistil.results.utterance_errors reads them back from a run's table)."""
        boot = cls(dict(ids), resamples, seed, dict(cells or {}), dict(modes or {}))
        boot._counts.update(counts)
        return boot

    def resampled(self, resamples: int) -> Bootstrap:
        """The same tables, cells, modes and seed with another number of resamples (new draws; counts kept)."""
        return replace(self, resamples=resamples, _weights={}, _rates={}, _counts=dict(self._counts))

    def runs(self, cell: str) -> list[str]:
        return self.cells.get(cell, [cell])

    def weights(self, corpus: str, split: str) -> np.ndarray:
        """(resamples, utterances) shared by every model on the set and split; where the tables carry a `group`
        column, drawn as the set's mode says (`utterance_weights`)."""
        if (corpus, split) not in self._weights:
            tables = [t for (_, c, s), t in self.tables.items() if (c, s) == (corpus, split)]
            ids = [t["id"].tolist() for t in tables]
            if any(i != ids[0] for i in ids):
                raise ValueError(f"evaluation tables of {corpus}/{split} list different utterances")
            groups = tables[0][GROUP] if GROUP in tables[0].columns else None
            self._weights[(corpus, split)] = utterance_weights(len(ids[0]), self.resamples, self.seed, corpus,
                                                               split, groups=groups,
                                                               mode=self.modes.get(corpus, GROUPS))
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
