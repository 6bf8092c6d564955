"""How precise a finished run's claims are, and what a run that resolves them would take:

    python -m udistil.results.power results/<run>

For each tested claim of paper_claims.md (recomputed from the run's per-utterance error table, its result matrix and
its config: the same claims, draws and family), its least precise comparison's bootstrap variance is split into
the part from training seeds and the part from utterances (and groups):

- seeds: the same two-level bootstrap with the utterances frozen (every resample draws the cells' seeds, and keeps
  every utterance once);
- utterances: the bootstrap with the seeds frozen (every resample keeps every seed once, and draws the utterances or
  groups as the run does).

The model behind the projections: SE^2 = s_seed^2 / n_seeds + s_utt^2 / n_utts, where n_seeds is the seeds per
cell, n_utts the test utterances of the benchmark sets (every set scaled alike, groups in proportion), s_seed^2 =
n_seeds x the seed variance and s_utt^2 = n_utts x the utterance variance. The detectable difference at 80% power
is (z at 1 - (1 - level) / 2 + z at 0.80) x SE at the claim's Holm level (udistil.results.intervals.
detectable_difference); for a target of 2 and of 1 WER point the tool gives the seeds needed with today's
utterances, the utterances needed with today's seeds, and both scaled by one factor, each with its cost on the
machine that ran it, from the run's Snakemake benchmark files: seconds per distilled student
(benchmarks/students/*.tsv, their mean) and seconds per evaluated utterance (benchmarks/evaluate/*.tsv, their sum
over every model's evaluated utterances, both splits). A cost counts the new students (every student cell of the
run trains the extra seeds) and their evaluation, and the evaluation of the extra utterances by every model."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from udistil.plan.grid import is_student
from udistil.plan.layout import Layout
from udistil.results.comparisons import TEST_SPLIT
from udistil.results.intervals import Bootstrap, detectable_difference, seed_draws, two_level_rates
from udistil.results.paper import POWER, claims
from udistil.results.utterance_errors import Run, run_path

TARGETS = (2.0, 1.0)
"""WER points: the detectable differences the tool plans for."""


def frozen_rates(boot: Bootstrap, cell: str, sets: list[str], split: str, freeze: str) -> np.ndarray:
    """(resamples,) a cell's mean rate over `sets` with the utterances (`freeze="utterances"`: seeds drawn as the
    run draws them, every utterance once) or the seeds (`freeze="seeds"`: every seed once, the run's utterance
    draws) held fixed."""
    out = []
    for corpus in sets:
        errors, lengths = boot.cell_counts(cell, corpus, split, "wer")
        if freeze == "utterances":
            seeds = seed_draws(len(errors), boot.resamples, boot.seed, cell)
            weights = np.ones((boot.resamples, len(lengths)), dtype=np.int64)
        else:
            seeds = np.tile(np.arange(len(errors)), (boot.resamples, 1))
            weights = boot.weights(corpus, split)
        out.append(two_level_rates(errors, lengths, seeds, weights))
    return np.mean(out, axis=0)


@dataclass(frozen=True)
class Split:
    """A comparison's bootstrap variance (WER points squared): all of it, and with utterances or seeds frozen."""

    total: float
    seeds: float  # utterances frozen
    utterances: float  # seeds frozen


def variance_split(boot: Bootstrap, student: str, other: str, sets: list[str], split: str) -> Split:
    def var(draws: np.ndarray) -> float:
        return float(np.var(draws[np.isfinite(draws)], ddof=1))

    total = boot.mean_rates(student, sets, split, "wer") - boot.mean_rates(other, sets, split, "wer")
    return Split(var(total), *(var(frozen_rates(boot, student, sets, split, f) - frozen_rates(boot, other, sets, split, f))
                               for f in ("utterances", "seeds")))


@dataclass(frozen=True)
class Design:
    """The run's design and its costs: seeds per cell, test utterances of the benchmark sets, student cells,
    evaluated runs, utterances each evaluates (every set and split), seconds per student and per utterance."""

    seeds: int
    utterances: int
    cells: int
    models: int
    evaluated_per_model: int
    train_s: float
    eval_s_per_utterance: float


def benchmark_seconds(root: Path, jobs: list[str]) -> list[float]:
    """The `s` (wall seconds) of each job's Snakemake benchmark file that exists."""
    lay = Layout(root.name)
    paths = [run_path(root, lay.bench(j)) for j in jobs]
    return [float(pd.read_csv(p, sep="\t")["s"].sum()) for p in paths if p.exists()]


def design(run: Run) -> Design:
    e = run.errors
    models = list(dict.fromkeys(e["model"]))
    students = [m for m in models if is_student(m)]
    per_cell = e[e["model"].isin(students)].groupby("cell")["model"].nunique()
    test = e[(e["split"] == TEST_SPLIT) & e["set"].isin(run.benchmark)]
    utterances = int(test.groupby("model").size().iloc[0]) if len(test) else 0
    train = benchmark_seconds(run.root, [f"students/{s}" for s in students])
    evaluated = benchmark_seconds(run.root, [f"evaluate/{m}" for m in models])
    return Design(seeds=int(per_cell.max()) if len(per_cell) else 1, utterances=utterances, cells=len(per_cell),
                  models=len(models), evaluated_per_model=int(len(e) / max(len(models), 1)),
                  train_s=float(np.mean(train)) if train else float("nan"),
                  eval_s_per_utterance=sum(evaluated) / len(e) if evaluated and len(e) else float("nan"))


def needed(split: Split, d: Design, level: float, target: float) -> dict[str, float]:
    """Seeds (today's utterances), utterances (today's seeds) and one common factor for both that bring the
    detectable difference to `target` under SE^2 = s_seed^2 / n_seeds + s_utt^2 / n_utts (inf: not reachable
    that way)."""
    se_target = target / detectable_difference(1.0, level, POWER)
    s_seed, s_utt = d.seeds * split.seeds, d.utterances * split.utterances
    se2 = split.seeds + split.utterances
    room_seeds, room_utts = se_target ** 2 - split.utterances, se_target ** 2 - split.seeds
    return {"seeds": max(math.ceil(s_seed / room_seeds), 1) if room_seeds > 0 else math.inf,
            "utterances": max(math.ceil(s_utt / room_utts), 1) if room_utts > 0 else math.inf,
            "factor": se2 / se_target ** 2}


def cost_s(d: Design, seeds: float, utterances: float) -> float:
    """Seconds to train the extra seeds of every student cell and evaluate them, and to evaluate every model on
    the extra utterances (`seeds` and `utterances`: the new totals)."""
    if math.isinf(seeds) or math.isinf(utterances):
        return math.inf
    new_students = max(seeds - d.seeds, 0) * d.cells
    extra = max(utterances - d.utterances, 0)
    evaluations = new_students * (d.evaluated_per_model + extra) + d.models * extra
    return new_students * d.train_s + evaluations * d.eval_s_per_utterance


def duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "cost unknown: no benchmark files"
    return f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds:.0f} s"


def count_words(n: float, what: str, cost: float) -> str:
    """`n` seeds or utterances with their cost, or that none reaches the target that way."""
    if math.isinf(n):
        return f"no number of {what} reaches it"
    return f"{n} {what} ({duration(cost)})"


def claim_report(item: dict, split: Split, d: Design) -> list[str]:
    se = math.sqrt(split.total)
    lines = [f"{item['claim']} ({item['scope']}): {item['verdict']}",
             f"  least precise comparison: {item['student']} minus {item['other']}; Holm level {item['level']:.2%} "
             f"(two-sided; its upper end is a one-sided test at {(1 - item['level']) / 2:.2%})",
             f"  bootstrap variance {split.total:.3f} (SE {se:.2f}): training seeds {split.seeds:.3f} "
             f"(utterances frozen), utterances and groups {split.utterances:.3f} (seeds frozen); "
             f"seed share {split.seeds / max(split.seeds + split.utterances, 1e-300):.0%}",
             f"  detectable at {POWER:.0%} power: {detectable_difference(se, item['level'], POWER):.2f} WER points "
             f"({d.seeds} seeds per cell, {d.utterances} test utterances in the benchmark sets)"]
    for target in TARGETS:
        n = needed(split, d, item["level"], target)
        scaled = (math.ceil(d.seeds * n["factor"]), math.ceil(d.utterances * n["factor"]))
        lines.append(f"  for {target:g} point{'s' if target != 1 else ''}: "
                     f"{count_words(n['seeds'], 'seeds', cost_s(d, n['seeds'], d.utterances))} with today's "
                     f"utterances; {count_words(n['utterances'], 'utterances', cost_s(d, d.seeds, n['utterances']))} "
                     f"with today's seeds; or both x{n['factor']:.1f}: {scaled[0]} seeds and {scaled[1]} utterances "
                     f"({duration(cost_s(d, *scaled))})")
    return lines


def power_report(run: Run) -> str:
    """The tool's text for a finished run."""
    matrix = pd.read_csv(run.table("result_matrix.csv"), keep_default_na=False, na_values=[""])
    matrix[["arch", "pool", "filter"]] = matrix[["arch", "pool", "filter"]].fillna("")
    boot = run.bootstrap()
    items = [c for c in claims(matrix, boot, run.benchmark, run.splits, run.confidence) if c["tests"]]
    d = design(run)
    lines = [f"{run.root}: {len(items)} tested claims; {d.seeds} seeds per cell, {d.utterances} test utterances in "
             f"the benchmark sets {run.benchmark}; {d.train_s:.0f} s per student, {d.eval_s_per_utterance:.3f} s per "
             "evaluated utterance (this run's benchmark files)", ""]
    for item in items:
        drawn = boot.resampled(item["resamples"])
        splits = [variance_split(drawn, s, o, run.benchmark, TEST_SPLIT) for s, o, _ in item["tests"]]
        worst = max(range(len(splits)), key=lambda i: splits[i].total)
        item = {**item, "student": item["tests"][worst][0], "other": item["tests"][worst][1]}
        lines += claim_report(item, splits[worst], d) + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m udistil.results.power", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the run's results folder, results/<run>")
    return power_report(Run.read(parser.parse_args(argv).run))


if __name__ == "__main__":
    print(main())
