"""Bootstrap intervals: the draws, the ratio statistic, paired differences and the verdict wording."""

import numpy as np
import pandas as pd
import pytest

from udistil.intervals import (
    FAILS,
    HOLDS,
    OPEN,
    Bootstrap,
    draw_indices,
    interval,
    resampled_rate,
    stable_seed,
    verdict,
)


def test_bootstrap_matches_a_hand_computation():
    errors, lengths = np.array([1, 0, 2]), np.array([2, 3, 5])
    idx = draw_indices(3, 6, 11, "clean", "test")
    by_hand = []
    for row in np.random.default_rng(stable_seed(11, "clean", "test")).integers(0, 3, size=(6, 3)):
        by_hand.append(100 * sum(errors[i] for i in row) / sum(lengths[i] for i in row))
    assert resampled_rate(errors, lengths, idx).tolist() == pytest.approx(by_hand)
    values = sorted(by_hand)  # the 2.5th percentile of six values, linear interpolation: 0.125 of the way
    lo, hi = interval(np.array(by_hand), 0.95)
    assert lo == pytest.approx(values[0] + 0.125 * (values[1] - values[0]))
    assert hi == pytest.approx(values[4] + 0.875 * (values[5] - values[4]))


def test_draws_are_seeded_and_named():
    a = draw_indices(50, 20, 1, "clean", "test")
    assert (a == draw_indices(50, 20, 1, "clean", "test")).all()
    assert not (a == draw_indices(50, 20, 1, "noisy", "test")).all()
    assert not (a == draw_indices(50, 20, 2, "clean", "test")).all()


def test_interval_agrees_with_scipy_bootstrap():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 15, 200)
    errors = rng.binomial(lengths, 0.2)
    ours = interval(resampled_rate(errors, lengths, draw_indices(200, 4000, 5, "s")), 0.95)
    res = bootstrap((errors, lengths), lambda e, n, axis=-1: 100 * e.sum(axis) / n.sum(axis), paired=True,
                    vectorized=True, n_resamples=4000, method="percentile", random_state=1)
    assert ours == pytest.approx((res.confidence_interval.low, res.confidence_interval.high), abs=0.4)


def table(errors):
    refs = ["a b c d"] * len(errors)
    hyps = [" ".join(["x"] * e + ["a", "b", "c", "d"][e:]) for e in errors]
    return pd.DataFrame({"id": [f"u{i}" for i in range(len(errors))], "reference_norm": refs,
                         "hypothesis_norm": hyps})


def test_paired_difference_direction():
    better, worse = [0, 1, 0, 1, 0, 0, 1, 0] * 3, [2, 2, 1, 3, 1, 2, 2, 1] * 3
    boot = Bootstrap({("good", "s", "test"): table(better), ("bad", "s", "test"): table(worse)}, 500, 0)
    diff = boot.rates("good", "s", "test", "wer") - boot.rates("bad", "s", "test", "wer")
    lo, hi = interval(diff, 0.95)
    assert hi < 0 and verdict(lo, hi) == HOLDS  # good - bad < 0: the better model is below zero
    lo, hi = interval(-diff, 0.95)
    assert lo > 0 and verdict(lo, hi) == FAILS


def test_tables_of_different_utterances_are_refused():
    boot = Bootstrap({("a", "s", "test"): table([0, 1]), ("b", "s", "test"): table([0, 1, 2])}, 10, 0)
    with pytest.raises(ValueError, match="s/test list different utterances"):
        boot.rates("a", "s", "test", "wer")


@pytest.mark.parametrize(("lo", "hi", "boundary", "expected"), [
    (-3.0, -0.01, 0.0, HOLDS), (-3.0, 0.0, 0.0, OPEN), (0.0, 2.0, 0.0, FAILS), (-0.01, 2.0, 0.0, OPEN),
    (-1.0, 0.99, 1.0, HOLDS), (-1.0, 1.0, 1.0, OPEN), (1.0, 3.0, 1.0, FAILS),
])
def test_verdict_at_the_interval_boundaries(lo, hi, boundary, expected):
    assert verdict(lo, hi, boundary) == expected
    assert OPEN == "not resolved at this size"
