"""Filter analysis and plots, tested without Snakemake (evaluate, efficiency, score jobs and logging have
their own test files)."""

import numpy as np
import pandas as pd
import pytest


def test_filter_analysis_writes_aucs_markdown_and_roc(tmp_path):
    from udistil.results.analysis import run_filter_analysis

    rng = np.random.default_rng(1)
    ids = [f"c{i}" for i in range(40)]
    true = rng.uniform(0, 150, 40)
    pool = tmp_path / "pool"
    pool.mkdir()
    pd.DataFrame({"id": ids, "score": true, "reason": None}).to_parquet(pool / "wer.parquet")
    pd.DataFrame({"id": ids, "score": true + rng.normal(0, 5, 40), "reason": None}).to_parquet(pool / "proxy.parquet")
    pd.DataFrame({"id": ids, "score": -true, "reason": None}).to_parquet(pool / "conf.parquet")  # keep high: perfect
    out = {k: tmp_path / f"auc.{k}" for k in ("csv", "md", "png")}
    df = run_filter_analysis(truth_paths=[pool / "wer.parquet"], score_paths=[pool / "proxy.parquet",
                                                                             pool / "conf.parquet"],
                             pools=["pool"], scores=["proxy", "conf"], stand_ins={"conf": "a stand-in"},
                             resamples=200, confidence=0.95, seed=0, out_csv=out["csv"], out_md=out["md"],
                             out_roc=out["png"])
    table = df.set_index("score")
    assert table.loc["conf*", "auc_wer>80"] == 1.0 and 0.9 < table.loc["proxy", "auc_wer>80"] <= 1.0
    proxy = table.loc["proxy"]
    assert proxy["auc_wer>80_lo"] <= proxy["auc_wer>80"] <= proxy["auc_wer>80_hi"] <= 1.0
    # a perfect score's every resample has AUC 1 (up to sklearn's trapezoid sum: 1 - 1e-16 on some draws)
    assert table.loc["conf*", "auc_wer>80_lo"] == pytest.approx(1.0, abs=1e-12) and proxy["resamples_skipped"] == 0
    assert "`conf`: a stand-in." in out["md"].read_text() and out["png"].read_bytes()[:4] == b"\x89PNG"


def bar_heights(ax) -> list[float]:
    return [round(p.get_height(), 6) for p in ax.patches]


def test_wer_by_filter_draws_each_students_wer_per_set_and_the_teacher(tmp_path):
    from udistil.results.plots import wer_by_filter

    matrix = pd.DataFrame([
        {"model": "t", "group": "teacher", "arch": "", "pool": "", "filter": "", "a": 10.0, "b": 30.0},
        {"model": "n", "group": "no-filter", "arch": "6-3", "pool": "p", "filter": "none", "a": 14.0, "b": 41.0},
        {"model": "x", "group": "label-free", "arch": "6-3", "pool": "p", "filter": "proxy", "a": 12.0, "b": 35.5},
        {"model": "y", "group": "label-free", "arch": "6-3", "pool": "q", "filter": "sonar*", "a": 9.0, "b": 20.0},
        {"model": "z", "group": "zero-shot", "arch": "", "pool": "", "filter": "", "a": 99.0, "b": 99.0}])
    fig = wer_by_filter(matrix, ["a", "b"], tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 0
    top, bottom = fig.axes[0], fig.axes[1]  # one panel per (architecture, pool), zero-shot rows left out
    assert top.get_title() == "Students 6-3, pool p (dashed: teacher)" and "pool q" in bottom.get_title()
    assert bar_heights(top) == [14.0, 41.0, 12.0, 35.5] and bar_heights(bottom) == [9.0, 20.0]
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["none", "proxy"]
    assert [t.get_text() for t in top.get_xticklabels()] == ["a", "b"]
    teacher = [segment[0][1] for segment in top.collections[0].get_segments()] + \
              [segment[0][1] for segment in top.collections[1].get_segments()]
    assert teacher == [10.0, 30.0]  # a dashed line per set at the teacher's WER


def test_score_vs_wer_plots_finite_points_with_wer_clipped_at_150(tmp_path):
    from udistil.results.plots import score_vs_wer

    fig = score_vs_wer({"proxy": (np.array([1.0, 2.0, np.inf, 4.0]), np.array([10.0, 200.0, 100.0, np.nan])),
                        "conf": (np.array([0.5]), np.array([5.0]))}, tmp_path / "sc.png")
    proxy, conf = fig.axes[0], fig.axes[1]
    assert proxy.collections[0].get_offsets().tolist() == [[10.0, 1.0], [150.0, 2.0]]  # (WER, score)
    assert proxy.get_title() == "proxy (2 worst/absent)" and proxy.get_ylabel() == "proxy"
    assert conf.collections[0].get_offsets().tolist() == [[5.0, 0.5]]


def test_wer_vs_speed_places_and_names_each_model(tmp_path):
    from udistil.results.plots import wer_vs_speed

    fig = wer_vs_speed([("teacher", 0.5, 25.0), ("student", 0.2, 30.0)], tmp_path / "speed.png")
    ax = fig.axes[0]
    assert [c.get_offsets().tolist() for c in ax.collections] == [[[0.5, 25.0]], [[0.2, 30.0]]]
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("teacher", (0.5, 25.0)), ("student", (0.2, 30.0))]


def test_learning_curves_draw_each_students_curve_and_circle_the_kept_weights(tmp_path):
    from udistil.results.plots import learning_curves

    table = pd.DataFrame({"student": ["student-a"] * 3 + ["student-b"] * 2, "step": [0, 40, 80, 0, 40],
                          "wer": [20.0, 8.0, 9.0, 21.0, 19.5], "kept": [False, True, False, False, True]})
    ax = learning_curves(table, tmp_path / "curves.png").axes[0]
    curves = [(line.get_label(), list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines]
    assert curves[0] == ("a", [0, 40, 80], [20.0, 8.0, 9.0]) and curves[2] == ("b", [0, 40], [21.0, 19.5])
    assert (list(curves[1][1:]), list(curves[3][1:])) == ([[40], [8.0]], [[40], [19.5]])  # the kept weights
    assert ax.lines[1].get_color() == ax.lines[0].get_color()


def test_roc_plot_draws_each_curve_with_its_auc(tmp_path):
    from udistil.results.plots import roc_plot

    ax = roc_plot({"proxy": ([0, 0.5, 1], [0, 0.9, 1])}, {"proxy": 0.8}, 80, tmp_path / "roc.png").axes[0]
    assert [line.get_label() for line in ax.lines][0] == "proxy (AUC 0.80)"
    assert list(ax.lines[0].get_ydata()) == [0, 0.9, 1] and ax.get_title() == "Detecting pseudo-labels with WER > 80"


def test_filter_auc_table_by_hand(tmp_path):
    """Four clips: conf (keep high) against true WER 10, 90, 100, 50; AUCs and Spearman computed by hand."""
    from udistil.results.analysis import run_filter_analysis

    pool = tmp_path / "pool"
    pool.mkdir()
    ids = ["a", "b", "c", "d"]
    pd.DataFrame({"id": ids, "score": [10.0, 90.0, 100.0, 50.0], "reason": None}).to_parquet(pool / "wer.parquet")
    pd.DataFrame({"id": ids, "score": [0.9, 0.2, 0.5, 0.1], "reason": None}).to_parquet(pool / "conf.parquet")
    out = {k: tmp_path / f"auc.{k}" for k in ("csv", "md", "png")}
    run_filter_analysis(truth_paths=[pool / "wer.parquet"], score_paths=[pool / "conf.parquet"], pools=["pool"],
                        scores=["conf"], stand_ins={}, resamples=100, confidence=0.9, seed=0, out_csv=out["csv"],
                        out_md=out["md"], out_roc=out["png"])
    row = pd.read_csv(out["csv"]).iloc[0]
    # WER > 80: bad b, c vs good a, d; badness -conf: b beats a but not d, c beats a but not d: 2 of 4 pairs
    assert (row["auc_wer>80"], row["positives_wer>80"]) == (0.5, 2)
    assert (row["auc_wer>40"], row["positives_wer>40"], row["auc_wer>20"]) == (1.0, 3, 1.0)  # only a is good
    # Spearman of the badness (-conf, oriented as the AUC is) with WER: ranks (1, 3, 2, 4) vs (1, 3, 4, 2), sum of
    # squared differences 8
    assert row["spearman"] == pytest.approx(1 - 6 * 8 / (4 * 15))
    assert row["auc_wer>80_lo"] <= 0.5 <= row["auc_wer>80_hi"] and row["n"] == 4
    assert "| pool | conf | 4 | 0.50 | 2 |" in out["md"].read_text()
