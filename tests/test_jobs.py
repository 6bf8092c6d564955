"""Filter analysis and plots, tested without Snakemake (evaluate, efficiency, score jobs and logging have
their own test files)."""

import numpy as np
import pandas as pd


def test_filter_analysis_writes_aucs_markdown_and_roc(tmp_path):
    from udistil.analysis import run_filter_analysis

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
    assert table.loc["conf*", "auc_wer>80_lo"] == 1.0 and proxy["resamples_skipped"] == 0
    assert "`conf`: a stand-in." in out["md"].read_text() and out["png"].read_bytes()[:4] == b"\x89PNG"


def test_plots_are_written(tmp_path):
    from udistil.plots import score_vs_wer, wer_by_filter

    matrix = pd.DataFrame([{"model": "t", "group": "teacher", "arch": "", "pool": "", "filter": "", "a": 10.0},
                           {"model": "s", "group": "label-free", "arch": "6-3", "pool": "p", "filter": "proxy",
                            "a": 12.0}])
    wer_by_filter(matrix, ["a"], tmp_path / "bars.png")
    score_vs_wer({"proxy": (np.array([1.0, 2.0, np.inf]), np.array([10.0, 20.0, 100.0]))}, tmp_path / "sc.png")
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in ("bars.png", "sc.png"))


