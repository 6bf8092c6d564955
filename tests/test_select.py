import math

import numpy as np
import pandas as pd
import pytest

from udistil.results.analysis import auc_table, score_quality
from udistil.results.intervals import Resampling
from udistil.selection.select import Rule, combined_score, keep_best, select, subset_stats


@pytest.fixture
def pool():
    # 8 clips in manifest order; u3 has an empty pseudo-label; ties at 0.5 (u1, u4) and 0.2 (u2, u6)
    return pd.DataFrame({
        "id": [f"u{i}" for i in range(8)],
        "duration_s": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        "pseudo_label": ["a b", "c", "d e", "", "f", "g h", "i", "j"],
        "text": ["a b", "c x", "d e", "k", "f", "y z", "i", "j"],
        "score": [0.9, 0.5, 0.2, math.inf, 0.5, 0.7, 0.2, 0.1],
    })


def kept(mask, pool):
    return pool.loc[mask, "id"].tolist()


def test_all_keeps_every_usable_clip(pool):
    assert kept(select(pool, None, Rule("all")), pool) == ["u0", "u1", "u2", "u4", "u5", "u6", "u7"]


def test_threshold_keep_low_includes_ties_at_threshold(pool):
    assert kept(select(pool, "low", Rule("threshold", 0.5)), pool) == ["u1", "u2", "u4", "u6", "u7"]


def test_threshold_keep_high(pool):
    assert kept(select(pool, "high", Rule("threshold", 0.7)), pool) == ["u0", "u5"]


def test_fraction_keeps_exactly_k_ties_by_manifest_order(pool):
    # 7 usable, fraction 3/7 -> k=3 best of keep-low: u7 (0.1), then u2 and u6 tie at 0.2
    assert kept(select(pool, "low", Rule("fraction", 3 / 7)), pool) == ["u2", "u6", "u7"]
    # k=4: next is the tie at 0.5 between u1 and u4; u1 comes first in the manifest
    assert kept(select(pool, "low", Rule("fraction", 4 / 7)), pool) == ["u1", "u2", "u6", "u7"]


def test_fraction_keep_high_direction(pool):
    # keep high (conf): best are 0.9 (u0), 0.7 (u5), then 0.5 tie u1/u4 -> u1
    assert kept(select(pool, "high", Rule("fraction", 3 / 7)), pool) == ["u0", "u1", "u5"]


def test_match_supervised_uses_supervised_size(pool):
    assert kept(select(pool, "low", Rule("match_supervised"), supervised_kept=2), pool) == ["u2", "u7"]
    with pytest.raises(ValueError, match="supervised"):
        select(pool, "low", Rule("match_supervised"))


def test_empty_pseudo_label_never_kept_even_if_scored_well(pool):
    pool.loc[3, "score"] = -1.0
    assert "u3" not in kept(select(pool, "low", Rule("fraction", 1.0)), pool)


def test_keep_best_nan_last():
    s = pd.Series([np.nan, 3.0, 1.0, np.nan])
    assert keep_best(s, 3).tolist() == [True, True, True, False]


def test_rule_validation():
    with pytest.raises(ValueError, match="needs a value"):
        Rule("threshold")
    with pytest.raises(ValueError, match="outside"):
        Rule("fraction", 1.5)
    with pytest.raises(ValueError, match="mode"):
        Rule("top")


def test_combined_score_is_mean_rank():
    a = pd.DataFrame({"score": [0.1, 0.9, 0.5]})  # proxy, keep low: ranks 1, 3, 2
    b = pd.DataFrame({"score": [0.2, 0.8, 0.9]})  # sonar, keep high: badness -s -> ranks 3, 2, 1
    assert combined_score({"proxy": a, "sonar": b}).tolist() == [2.0, 2.5, 1.5]


def test_stats_true_wer_of_kept_and_dropped(pool):
    mask = select(pool, "low", Rule("threshold", 0.2))  # u2, u6, u7: all correct
    stats = subset_stats(pool, mask, "basic", "proxy", Rule("threshold", 0.2))
    assert stats["kept_clips"] == 3 and stats["kept_hours"] == pytest.approx(18 / 3600, abs=1e-6)
    assert stats["true_wer_kept"] == 0.0
    # dropped: u0 (0/2), u1 ("c" vs "c x": 1 del/2), u3 (empty: 1/1), u4 (0/1), u5 (2 subs/2) -> 4/8
    assert stats["true_wer_dropped"] == pytest.approx(50.0)
    assert stats["dropped_empty_pseudo_label"] == 1


def test_auc_perfect_and_inverted_scores():
    truth = pd.DataFrame({"id": list("abcdef"), "score": [0, 10, 30, 50, 90, 120.0]})
    good = pd.DataFrame({"id": list("abcdef"), "score": [0.0, 5, 20, 45, 80, math.inf]})  # keep low, tracks WER
    conf = pd.DataFrame({"id": list("abcdef"), "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]})  # keep high, tracks WER
    boot = Resampling(resamples=200, confidence=0.95, seed=0)
    table = auc_table({"proxy": good, "conf": conf}, truth, "p", boot)[0].set_index("score")
    assert table.loc["proxy", "auc_wer>80"] == 1.0 and table.loc["conf", "auc_wer>40"] == 1.0
    # both track WER once oriented like the AUC (conf is kept high: its badness is -conf)
    assert table.loc["proxy", "spearman"] == pytest.approx(1.0) and table.loc["conf", "spearman"] == pytest.approx(1.0)
    idx = np.zeros((3, 6), dtype=int) + np.arange(6)
    inverted, _ = score_quality("proxy", pd.Series([5.0, 4, 3, 2, 1, 0]), truth["score"], boot, idx)
    assert inverted["auc_wer>20"] == 0.0 and inverted["spearman"] == pytest.approx(-1.0)


@pytest.fixture
def files(tmp_path, pool):
    """The pool as the select rule reads it: manifest, pseudo-labels, a proxy score table."""
    from udistil.corpora.manifest import COLUMNS

    m = pool.assign(audio="x.wav", corpus="c", split="train")[COLUMNS]
    m.to_parquet(tmp_path / "m.parquet")
    pool[["id", "pseudo_label"]].to_parquet(tmp_path / "labels.parquet")
    pool[["id", "score"]].assign(reason=None).to_parquet(tmp_path / "proxy.parquet")
    return tmp_path


def run(files, scores, filter_name="proxy", rule=None, labels="labels.parquet"):
    from udistil.selection.select import run_select

    return run_select(labels=files / labels, manifest=files / "m.parquet", score_paths=[files / s for s in scores],
                      rule=rule or {"mode": "fraction", "value": 0.5}, filter_name=filter_name, norm_kind="basic",
                      out_subset=files / "subset.parquet", out_stats=files / "stats.json")


def test_run_select_writes_the_best_half(files):
    stats = run(files, ["proxy.parquet"])
    subset = pd.read_parquet(files / "subset.parquet")
    # 7 usable clips -> keep 4: 0.1 (u7), 0.2 (u2, u6), then the tie at 0.5 goes to u1 (manifest order)
    assert subset["id"].tolist() == ["u1", "u2", "u6", "u7"] and subset["score"].tolist() == [0.5, 0.2, 0.2, 0.1]
    assert stats["kept_clips"] == 4 and stats["pool_clips"] == 8


def test_run_select_names_bad_inputs(files, pool):
    pool[["id", "score"]].iloc[:5].to_parquet(files / "proxy.parquet")
    with pytest.raises(ValueError, match=r"proxy.parquet: score table 'proxy' has no row for 3 manifest ids"):
        run(files, ["proxy.parquet"])
    pool[["id", "pseudo_label"]].iloc[1:].to_parquet(files / "short.parquet")
    with pytest.raises(ValueError, match=r"short.parquet: pseudo-label table has no row for 1 manifest ids.*u0"):
        run(files, [], "none", labels="short.parquet")
    pool[["id", "score"]].to_parquet(files / "mystery.parquet")
    with pytest.raises(ValueError, match=r"mystery.parquet: a score table's file name must be a score"):
        run(files, ["mystery.parquet"])
    with pytest.raises(ValueError, match="selection rule of filter 'proxy' has no mode"):
        run(files, ["proxy.parquet"], rule={"value": 3})


def test_supervised_rule_at_exactly_80():
    """The fork keeps WER < 80 (a clip at exactly 80 is dropped); `<=` keeps it."""
    wer = pd.DataFrame({"id": ["a", "b", "c"], "pseudo_label": ["x", "y", "z"], "score": [79.99, 80.0, 80.01]})
    assert kept(select(wer, "low", Rule("threshold", 80, strict=True)), wer) == ["a"]
    assert kept(select(wer, "low", Rule("threshold", 80)), wer) == ["a", "b"]


def test_run_select_applies_the_strict_comparison_and_records_it(files, pool):
    pool[["id", "score"]].assign(score=[80.0, 10, 80, 0, 79, 81, 0, 100], reason=None).to_parquet(files / "wer.parquet")
    rule = {"mode": "threshold", "value": 80, "strict": True}
    stats = run(files, ["wer.parquet"], filter_name="supervised", rule=rule)
    assert pd.read_parquet(files / "subset.parquet")["id"].tolist() == ["u1", "u4", "u6"] and stats["strict"] is True
    stats = run(files, ["wer.parquet"], filter_name="supervised", rule={**rule, "strict": False})
    assert pd.read_parquet(files / "subset.parquet")["id"].tolist() == ["u0", "u1", "u2", "u4", "u6"]


def test_timestamped_pseudo_labels_are_selected_on_their_text_and_kept_for_training(files, pool):
    stamped = pool.assign(pseudo_label=[f"<|0.00|> {t}<|1.00|>" if t else "<|0.00|><|1.00|>"
                                        for t in pool["pseudo_label"]])
    stamped[["id", "pseudo_label"]].to_parquet(files / "stamped.parquet")
    stats = run(files, ["proxy.parquet"], labels="stamped.parquet")
    plain = run(files, ["proxy.parquet"])
    assert stats == plain  # the same subset and true WERs: timestamps are not text
    subset = pd.read_parquet(files / "subset.parquet")
    run(files, ["proxy.parquet"], labels="stamped.parquet")
    assert pd.read_parquet(files / "subset.parquet")["pseudo_label"].tolist() == [
        f"<|0.00|> {t}<|1.00|>" for t in subset["pseudo_label"]]


def test_scores_read_pseudo_labels_without_timestamps(files, pool):
    from udistil.labels.timestamps import strip_timestamps
    from udistil.scores.jobs import read_labels

    pool.assign(pseudo_label="<|0.00|> a b.<|1.20|><|1.20|> c<|2.00|>")[["id", "pseudo_label"]].to_parquet(
        files / "stamped.parquet")
    assert set(read_labels(files / "stamped.parquet")["pseudo_label"]) == {"a b. c"}
    assert strip_timestamps("no stamps  here ") == "no stamps  here " and strip_timestamps(None) is None
