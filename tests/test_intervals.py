"""Bootstrap intervals: the draws, the ratio statistic, paired differences and the verdict wording."""

import numpy as np
import pandas as pd
import pytest

from udistil.results.intervals import (
    FAILS,
    HOLDS,
    OPEN,
    Bootstrap,
    draw_indices,
    holm,
    holm_adjusted,
    holm_members,
    index_weights,
    interval,
    member_p,
    resamples_for,
    seed_draws,
    seed_mean_rate,
    stable_seed,
    two_level_rates,
    utterance_weights,
    verdict,
)


def resampled_rate(errors: np.ndarray, lengths: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The corpus-level rate (x100) of every resample (one value per row of `idx`), counted directly: the
    reference the library's weighted counts are checked against."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * errors[idx].sum(axis=1) / lengths[idx].sum(axis=1)


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
    assert hi < 0 and verdict(lo, hi, 0.0) == HOLDS  # good - bad < 0: the better model is below zero
    lo, hi = interval(-diff, 0.95)
    assert lo > 0 and verdict(lo, hi, 0.0) == FAILS


def test_tables_of_different_utterances_are_refused():
    boot = Bootstrap({("a", "s", "test"): table([0, 1]), ("b", "s", "test"): table([0, 1, 2])}, 10, 0)
    with pytest.raises(ValueError, match="s/test list different utterances"):
        boot.rates("a", "s", "test", "wer")


@pytest.mark.parametrize(("lo", "hi", "boundary", "expected"), [
    (-3.0, -0.01, 0.0, HOLDS), (-3.0, 0.0, 0.0, OPEN), (0.0, 2.0, 0.0, OPEN), (0.01, 2.0, 0.0, FAILS),
    (-0.01, 2.0, 0.0, OPEN), (-1.0, 0.99, 1.0, HOLDS), (-1.0, 1.0, 1.0, OPEN), (1.0, 3.0, 1.0, OPEN),
    (1.01, 3.0, 1.0, FAILS),
])
def test_verdict_at_the_interval_boundaries(lo, hi, boundary, expected):
    assert verdict(lo, hi, boundary) == expected
    assert OPEN == "not resolved by this run"


def test_point_equals_the_evaluation_metrics_exactly():
    from udistil.evaluate.evaluation import score_hypotheses

    refs = ["the cat sat on the mat", "hello world", "a b c d e", "one two", "tiny"]
    hyps = ["the cat sat on a mat", "", "a b x d e f", "one two", "tin knee"]
    table, metrics = score_hypotheses(refs, hyps, "basic")
    boot = Bootstrap({("m", "s", "test"): table.assign(id=[f"u{i}" for i in range(len(refs))])}, 50, 0)
    for unit in ("wer", "cer"):
        assert round(boot.point("m", "s", "test", unit), 4) == metrics[unit]
        lo, hi = interval(boot.rates("m", "s", "test", unit), 0.95)
        assert lo <= boot.point("m", "s", "test", unit) <= hi


def test_bench_average_resamples_each_set_on_its_own_draws():
    boot = Bootstrap({("m", "a", "test"): table([0, 1, 2, 0]), ("m", "b", "test"): table([1, 1, 0, 3, 2])}, 40, 7)
    mean = boot.mean_rates("m", ["a", "b"], "test", "wer")
    assert mean.tolist() == pytest.approx(((boot.rates("m", "a", "test", "wer")
                                            + boot.rates("m", "b", "test", "wer")) / 2).tolist())
    assert not (boot.weights("a", "test")[:, :4] == boot.weights("b", "test")[:, :4]).all()
    assert boot.mean_point("m", ["a", "b"], "test", "wer") == pytest.approx((3 / 16 + 7 / 20) * 50)


def test_auc_interval_contains_the_point_and_counts_one_class_resamples():
    from sklearn.metrics import roc_auc_score

    from udistil.results.analysis import auc_draws, auc_interval, pool_draws
    from udistil.results.intervals import Resampling

    rng = np.random.default_rng(4)
    positive = rng.random(300) < 0.3
    bad = positive + rng.normal(0, 0.8, 300)
    every = np.ones(300, dtype=bool)
    row = auc_interval(auc_draws(positive, bad, every, pool_draws(300, Resampling(300, 0.95, 1), "pool")), 0.95)
    assert row["auc_wer>80_lo"] < roc_auc_score(positive, bad) < row["auc_wer>80_hi"]
    assert row["resamples_skipped"] == 0
    rare = np.zeros(6, dtype=bool)
    rare[0] = True  # one positive in six clips: about a third of the resamples miss it
    idx = pool_draws(6, Resampling(200, 0.95, 1), "pool")
    row = auc_interval(auc_draws(rare, np.arange(6.0), np.ones(6, dtype=bool), idx), 0.95)
    assert 30 < row["resamples_skipped"] < 120 and row["auc_wer>80_lo"] <= row["auc_wer>80_hi"]


def test_scores_of_a_pool_share_their_draws_and_get_paired_differences():
    from sklearn.metrics import roc_auc_score

    from udistil.results.analysis import auc_differences, auc_table
    from udistil.results.intervals import Resampling

    rng = np.random.default_rng(2)
    wer = rng.uniform(0, 160, 200)
    truth = pd.DataFrame({"id": [f"c{i}" for i in range(200)], "score": wer})
    sharp = truth.assign(score=wer + rng.normal(0, 20, 200))  # keep low, close to the truth
    blunt = truth.assign(score=wer + rng.normal(0, 80, 200))
    blunt.loc[5, "score"] = np.nan  # a clip one score lacks: the draws stay shared
    boot = Resampling(400, 0.95, 3)
    table, draws = auc_table({"proxy": sharp, "nnll": blunt}, truth, "p", boot)
    # by hand: resample 0 of the pool's draws, AUC of each score on the drawn clips it has
    row0 = np.random.default_rng(stable_seed(3, "p")).integers(0, 200, 200)
    keep = row0[row0 != 5]
    assert draws["proxy"][0] == pytest.approx(roc_auc_score(wer[row0] > 80, sharp["score"].to_numpy()[row0]))
    assert draws["nnll"][0] == pytest.approx(roc_auc_score(wer[keep] > 80, blunt["score"].to_numpy()[keep]))
    pairs = auc_differences(table, draws, 0.95)
    row = pairs.iloc[0]
    point = table.set_index("score")["auc_wer>80"]
    assert (row["score"], row["other"]) == ("proxy", "nnll")
    assert row["difference"] == pytest.approx(point["proxy"] - point["nnll"])
    assert row["lo"] > 0 and row["verdict"] == "score higher"  # the sharper score ranks clearly higher
    # paired draws: the difference's interval is narrower than the two intervals side by side allow
    lo_a, hi_a = interval(draws["proxy"], 0.95)
    lo_b, hi_b = interval(draws["nnll"], 0.95)
    assert row["hi"] - row["lo"] < (hi_a - lo_a) + (hi_b - lo_b)


def test_the_same_seed_gives_identical_bytes():
    def run():
        boot = Bootstrap({("g", "s", "test"): table([0, 1, 2, 1, 0]), ("b", "s", "test"): table([2, 2, 1, 3, 0])},
                         100, 9)
        diff = boot.rates("g", "s", "test", "wer") - boot.rates("b", "s", "test", "wer")
        return np.array(interval(diff, 0.9)).tobytes() + diff.tobytes()

    assert run() == run()


def test_filtering_effect_picks_the_best_filtered_student_and_its_paired_interval():
    from udistil.results.comparisons import filtering_effect

    matrix = pd.DataFrame({"model": ["t", "s-none", "s-sup", "s-proxy"],
                           "group": ["teacher", "no-filter", "supervised", "label-free"],
                           "arch": ["", "6-5", "6-5", "6-5"], "pool": ["", "p", "p", "p"],
                           "bench_test": [10.0, 30.0, 25.0, 22.0], "bench_validation": [10.0, 30.0, 25.0, 24.0]})
    pairs = pd.DataFrame([["s-proxy", "s-none", "no-filter", "bench", "test", -8.0, -12.5, -3.0, ""],
                          ["s-sup", "s-none", "no-filter", "bench", "test", -5.0, -9.0, 1.0, ""]],
                         columns=["student", "other", "relation", "set", "split", "difference", "lo", "hi",
                                  "verdict"])
    md = filtering_effect(matrix, pairs, "test", 0.95, "validation")
    row = [line for line in md.splitlines() if line.startswith("| 6-5")]
    assert row == ["| 6-5 | p | s-proxy (label-free) | 22.00 | 30.00 | -8.00 [-12.50, -3.00] | filtered better |"]
    # chosen on validation, never on the test numbers it reports
    md = filtering_effect(matrix.assign(bench_validation=[10.0, 30.0, 23.0, 24.0]), pairs, "test", 0.95, "validation")
    assert "| 6-5 | p | s-sup (supervised) | 25.00 | 30.00 | -5.00 [-9.00, +1.00] | not resolved by this run |" in md
    assert filtering_effect(matrix, pairs, "test", 0.95, None) == ""  # nothing to choose on


def test_two_level_bootstrap_matches_a_hand_computation():
    # 2 seeds x 3 utterances; two resamples with fixed draws
    errors = np.array([[1, 0, 2], [0, 1, 1]])
    lengths = np.array([2, 3, 5])
    seeds = np.array([[0, 0], [1, 0]])  # resample 0 draws seed 0 twice, resample 1 seeds 1 and 0
    weights = np.array([[1, 1, 1], [2, 0, 1]])  # resample 1 draws utterance 0 twice and utterance 2 once
    # resample 0: seed 0 has 3 errors in 10 words -> 30, twice -> 30
    # resample 1: 9 words; seed 1 has 0 + 0 + 1 = 1 error (11.11), seed 0 has 2 + 0 + 2 = 4 (44.44) -> 250/9
    assert two_level_rates(errors, lengths, seeds, weights).tolist() == pytest.approx([30.0, 250 / 9])
    assert seed_mean_rate(errors, lengths) == pytest.approx((30 + 20) / 2)  # the mean of per-seed corpus WERs


def test_two_level_bootstrap_enumerated_expectation():
    # every seed draw (4) and every utterance draw (27) once: the mean of the resamples by hand
    errors, lengths = np.array([[1, 0, 2], [0, 1, 1]]), np.array([2, 3, 5])
    seeds = np.array([[a, b] for a in range(2) for b in range(2)])
    utts = np.array([[a, b, c] for a in range(3) for b in range(3) for c in range(3)])
    seed_rows, utt_rows = np.repeat(seeds, len(utts), axis=0), np.tile(utts, (len(seeds), 1))
    values = two_level_rates(errors, lengths, seed_rows, index_weights(utt_rows, 3))
    by_hand = np.mean([np.mean([100 * errors[s][u].sum() / lengths[u].sum() for s in sd])
                       for sd in seeds for u in utts])
    assert values.mean() == pytest.approx(by_hand)


def test_seed_draws_are_independent_per_cell_and_trivial_for_one_seed():
    assert (seed_draws(1, 5, 0, "a") == 0).all()
    a, b = seed_draws(3, 50, 0, "cell-a"), seed_draws(3, 50, 0, "cell-b")
    assert a.shape == (50, 3) and set(np.unique(a)) == {0, 1, 2} and not (a == b).all()


def test_bootstrap_cells_average_their_seeds_on_shared_utterance_draws():
    tables = {("s1", "x", "test"): table([0, 1, 2, 0]), ("s2", "x", "test"): table([2, 1, 0, 0]),
              ("t", "x", "test"): table([1, 1, 1, 1])}
    boot = Bootstrap(tables, 200, 3, cells={"student": ["s1", "s2"]})
    assert boot.point("student", "x", "test", "wer") == pytest.approx((3 / 16 + 3 / 16) / 2 * 100)
    errors, lengths = boot.cell_counts("student", "x", "test", "wer")
    expected = two_level_rates(errors, lengths, seed_draws(2, 200, 3, "student"), boot.weights("x", "test"))
    assert boot.rates("student", "x", "test", "wer").tolist() == pytest.approx(expected.tolist())
    single = Bootstrap(tables, 200, 3)  # a model of one seed: the one-level bootstrap on the same draws
    assert single.rates("t", "x", "test", "wer").tolist() == pytest.approx(
        resampled_rate(*single.counts("t", "x", "test", "wer"), draw_indices(4, 200, 3, "x", "test")).tolist())


def test_clustered_bootstrap_resamples_groups_then_utterances_within_them():
    groups = pd.Series(["reader-b", "reader-a", "reader-a", "reader-c", "reader-b"])
    w = utterance_weights(5, 300, 1, "real", "test", groups=groups)
    by_hand = np.random.default_rng(stable_seed(1, "real", "test", "group")).integers(0, 3, size=(300, 3))
    times = index_weights(by_hand, 3)  # how often groups a, b, c (sorted) are drawn
    members = {0: [1, 2], 1: [0, 4], 2: [3]}
    for g, idx in members.items():  # a group drawn k times brings k x its size utterances, drawn from its own
        assert (w[:, idx].sum(axis=1) == times[:, g] * len(idx)).all()
    assert (w.sum(axis=1) == (times * [2, 2, 1]).sum(axis=1)).all()
    assert (w[:, 1] != w[:, 2]).any()  # within a group, utterances are resampled, not tied together
    assert (w == utterance_weights(5, 300, 1, "real", "test", groups=groups)).all()  # the same draws every time


def test_clustered_bootstrap_of_one_group_still_resamples_utterances():
    one_voice = table([0] * 6 + [2] * 6).assign(group="one-voice")
    lo, hi = interval(Bootstrap({("m", "s", "test"): one_voice}, 1000, 0).rates("m", "s", "test", "wer"), 0.95)
    assert lo < 25.0 < hi and hi - lo > 10  # not frozen at the point estimate (25%)


def test_clustered_bootstrap_widens_the_interval_of_correlated_utterances():
    # two readers, one perfect and one bad: utterances of a reader are not independent draws
    errors = [0] * 10 + [3] * 10
    plain = table(errors)
    grouped = plain.assign(group=["good"] * 10 + ["bad"] * 10)
    a = interval(Bootstrap({("m", "s", "test"): plain}, 2000, 0).rates("m", "s", "test", "wer"), 0.95)
    b = interval(Bootstrap({("m", "s", "test"): grouped}, 2000, 0).rates("m", "s", "test", "wer"), 0.95)
    assert b[1] - b[0] > 2 * (a[1] - a[0])
    assert b == pytest.approx((0.0, 75.0))  # both readers bad or both good: 0 or 75


def test_holm_adjusted_verdicts_by_hand():
    clear = np.linspace(-3, -1, 1000)  # p = 0
    near = np.concatenate([np.linspace(-5, -0.5, 980), np.linspace(0.5, 1, 20)])  # 2% above 0: p = 0.04
    worse = np.linspace(1, 2, 1000)  # p = 0, above the boundary
    assert verdict(*interval(near, 0.95), 0.0) == HOLDS  # unadjusted, it holds
    out = holm([(clear, 0.0), (near, 0.0), (near.copy(), 0.0)], 0.95)
    # by hand: p = 0, 0.04, 0.04 against 0.05/3, 0.05/2, 0.05/1: the second step fails, and Holm stops
    assert [o.verdict for o in out] == [HOLDS, OPEN, OPEN]
    assert [o.p for o in out] == pytest.approx([0.0, 0.04, 0.04])
    assert [o.confidence for o in out] == pytest.approx([1 - 0.05 / 3, 0.975, 0.975])
    assert (out[1].lo, out[1].hi) == interval(near, 0.975)
    # with one clear failure instead: p = 0, 0, 0.04 against 0.05/3, 0.05/2, 0.05: all decided
    out = holm([(near, 0.0), (clear, 0.0), (worse, 0.0)], 0.95)
    assert [o.verdict for o in out] == [HOLDS, HOLDS, FAILS]
    assert [o.confidence for o in out] == pytest.approx([0.95, 1 - 0.05 / 3, 0.975])
    assert holm([(near, 0.0)], 0.95)[0].verdict == HOLDS  # a family of one: the unadjusted verdict
    assert holm([(near, 1.0)], 0.95)[0].verdict == HOLDS and holm([(worse, 1.5)], 0.95)[0].verdict == OPEN
    out = holm([(clear, 0.0), (near, 0.0), (near.copy(), 0.0)], 0.95)
    assert [o.p_adjusted for o in out] == pytest.approx([0.0, 0.08, 0.08])  # max(0, 2 x 0.04), max(.., 1 x 0.04)


def test_holm_adjusted_p_values_by_hand():
    # sorted p 0.01, 0.02, 0.04 of m = 3: 3 x 0.01, max(0.03, 2 x 0.02), max(0.04, 1 x 0.04); then capped at 1
    assert holm_adjusted([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm_adjusted([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_adjusted([0.02, 0.2]) == pytest.approx([0.04, 0.2])  # step-down, not Bonferroni (0.4)


def test_an_intersection_union_member_is_one_test_at_its_own_level():
    clear = np.linspace(-3, -1, 1000)
    near = np.concatenate([np.linspace(-5, -0.5, 980), np.linspace(0.5, 1, 20)])  # p = 0.04
    # two pairs that must both hold: the member's p is the larger (no correction among them)
    assert member_p([(clear, 0.0), (near, 0.0)]) == pytest.approx(0.04)
    alone = holm_members([[(clear, 0.0), (near, 0.0)]], 0.95)[0]
    assert alone.verdict == HOLDS and alone.level == pytest.approx(0.95) and alone.deciding == 1
    assert alone.bounds == (interval(clear, 0.95), interval(near, 0.95))
    # three pairs as one member hold at 95%; as three members of a Holm family the second step (97.5%) stops
    closer = np.concatenate([np.linspace(-5, -0.5, 985), np.linspace(0.5, 1, 15)])  # p = 0.03
    assert holm_members([[(clear, 0.0), (near, 0.0), (closer, 0.0)]], 0.95)[0].verdict == HOLDS
    assert [o.verdict for o in holm([(clear, 0.0), (near, 0.0), (closer, 0.0)], 0.95)] == [HOLDS, OPEN, OPEN]
    # a member fails when one pair lies above its boundary at the member's level / its size (Bonferroni within)
    above = np.concatenate([np.linspace(0.5, 2, 985), np.linspace(-1, -0.5, 15)])  # 1.5% at or below 0
    assert member_p([(clear, 0.0), (above, 0.0)]) == pytest.approx(0.06)  # 2 x 0.03: not at 5%
    assert holm_members([[(clear, 0.0), (above, 0.0)]], 0.95)[0].verdict == OPEN
    assert holm_members([[(clear, 0.0), (above, 0.0)]], 0.90)[0].verdict == FAILS
    assert holm_members([[(above, 0.0)]], 0.95)[0].verdict == FAILS  # alone: p = 0.03


def test_resamples_leave_twenty_draws_in_each_tail_of_the_first_holm_step():
    assert resamples_for(0.95, 1) == 800  # 20 / 0.025
    assert resamples_for(0.95, 4) == 3200  # 20 / (0.05 / 8): 99.375% at the first step
    assert resamples_for(0.95, 7, at_least=1000) == 5600 and resamples_for(0.95, 1, at_least=1000) == 1000
    draws = np.random.default_rng(0).normal(size=resamples_for(0.95, 4))
    assert np.sum(draws < np.quantile(draws, 0.05 / 8)) == 20


def test_within_groups_keeps_each_group_and_resamples_its_utterances():
    groups = pd.Series(["b", "a", "a", "c", "b", "b"])
    w = utterance_weights(6, 400, 1, "noisy", "test", groups=groups, mode="within_groups")
    for idx in ([1, 2], [0, 4, 5], [3]):  # every resample keeps each group at its own size
        assert (w[:, idx].sum(axis=1) == len(idx)).all()
    assert (w[:, 0] != w[:, 4]).any() and (w[:, 3] == 1).all()  # a group of one utterance is fixed
    assert (w == utterance_weights(6, 400, 1, "noisy", "test", groups=groups, mode="within_groups")).all()
    plain = utterance_weights(6, 400, 1, "noisy", "test")
    assert (utterance_weights(6, 400, 1, "noisy", "test", groups=groups, mode="utterances") == plain).all()
    with pytest.raises(ValueError, match="resample mode 'voices'"):
        utterance_weights(6, 4, 1, "noisy", "test", groups=groups, mode="voices")


def test_the_resample_mode_of_a_set_reaches_the_bootstrap():
    # two voices, one perfect, one bad: as fixed strata the rate cannot leave 37.5; as groups it can
    errors = [0] * 10 + [3] * 10
    grouped = {("m", "s", "test"): table(errors).assign(group=["good"] * 10 + ["bad"] * 10)}
    strata = Bootstrap(grouped, 500, 0, modes={"s": "within_groups"}).rates("m", "s", "test", "wer")
    assert (strata == 37.5).all()  # every utterance of a voice has the same errors
    clusters = interval(Bootstrap(grouped, 500, 0).rates("m", "s", "test", "wer"), 0.95)
    assert clusters == pytest.approx((0.0, 75.0))


def test_a_bootstrap_from_counts_equals_one_from_the_tables():
    tables = {("s1", "x", "test"): table([0, 1, 2, 0]).assign(group=list("aabb")),
              ("s2", "x", "test"): table([2, 1, 0, 0]).assign(group=list("aabb"))}
    boot = Bootstrap(tables, 300, 4, cells={"c": ["s1", "s2"]})
    counts = {(m, c, s, "wer"): boot.counts(m, c, s, "wer") for m, c, s in tables}
    again = Bootstrap.from_counts(counts, {k: t[["id", "group"]] for k, t in tables.items()}, 300, 4,
                                  cells={"c": ["s1", "s2"]})
    assert (again.rates("c", "x", "test", "wer") == boot.rates("c", "x", "test", "wer")).all()
    more = boot.resampled(600)
    assert more.resamples == 600 and len(more.rates("c", "x", "test", "wer")) == 600 and boot.resamples == 300
