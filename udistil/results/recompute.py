"""Recompute one paired interval of a finished run from its per-utterance error table, beside the value the run
stored in comparisons.csv:

    python -m udistil.results.recompute results/<run> STUDENT OTHER [--set bench] [--split test]
        [--confidence C] [--resamples N]

STUDENT and OTHER are matrix rows (cells such as student-6-5-pool-proxy, or the teacher's name). With the run's own
confidence and resamples (the defaults) the interval is comparisons.csv's, to the last digit; a claim's interval in
paper_claims.md is recomputed with that claim's confidence and the family's resamples (both printed there), since
the draws depend only on the config seed, the names and the number of resamples."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from udistil.results.comparisons import BENCH, TEST_SPLIT, lookup, standard_error
from udistil.results.intervals import interval
from udistil.results.utterance_errors import Run


def recompute(run: Run, student: str, other: str, corpus: str = BENCH, split: str = TEST_SPLIT,
              confidence: float | None = None, resamples: int | None = None) -> dict:
    """The difference `student - other` (WER points, the mean over `corpus`'s sets: the benchmark for "bench"),
    its percentile interval and standard error from the error table's bootstrap."""
    boot = run.bootstrap(resamples)
    sets = run.benchmark if corpus == BENCH else [corpus]
    draws = boot.mean_rates(student, sets, split, "wer") - boot.mean_rates(other, sets, split, "wer")
    confidence = confidence or run.confidence
    lo, hi = interval(draws, confidence)
    point = boot.mean_point(student, sets, split, "wer") - boot.mean_point(other, sets, split, "wer")
    return {"difference": point, "lo": lo, "hi": hi, "se": standard_error(draws), "confidence": confidence,
            "resamples": boot.resamples, "finite": int(np.isfinite(draws).sum())}


def stored(run: Run, student: str, other: str, corpus: str = BENCH, split: str = TEST_SPLIT
           ) -> tuple[float, float, float]:
    """(difference, lo, hi) of the pair as comparisons.csv stores it (either order)."""
    return lookup(pd.read_csv(run.table("comparisons.csv")), student, other, corpus, split)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m udistil.results.recompute", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the run's results folder, results/<run>")
    parser.add_argument("student")
    parser.add_argument("other")
    parser.add_argument("--set", default=BENCH, help="an evaluation set, or bench (the benchmark average)")
    parser.add_argument("--split", default=TEST_SPLIT)
    parser.add_argument("--confidence", type=float, default=None, help="default: the run's uncertainty.confidence")
    parser.add_argument("--resamples", type=int, default=None, help="default: the run's uncertainty.resamples")
    args = parser.parse_args(argv)
    run = Run.read(args.run)
    r = recompute(run, args.student, args.other, args.set, args.split, args.confidence, args.resamples)
    lines = [f"{args.student} minus {args.other}, {args.set}/{args.split}: difference {r['difference']:+.4f} "
             f"[{r['lo']:+.4f}, {r['hi']:+.4f}] ({r['confidence']:.1%} interval, {r['resamples']} resamples, "
             f"SE {r['se']:.4f})"]
    try:
        diff, lo, hi = stored(run, args.student, args.other, args.set, args.split)
        lines.append(f"comparisons.csv ({run.confidence:.0%}, {run.resamples} resamples): difference {diff:+.4f} "
                     f"[{lo:+.4f}, {hi:+.4f}]")
    except KeyError as err:
        lines.append(f"comparisons.csv: {err.args[0]}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
