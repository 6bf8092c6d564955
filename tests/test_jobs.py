"""Library entry points that the workflow's jobs call, tested without Snakemake (tiny models, a few clips)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from tests.helpers import decode_options
from udistil.manifest import Record, build_manifest

TEXTS = ["the cat sat", "a dog ran far", "birds sing"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    records = [Record(id=f"u{i}", source=(rng.standard_normal(8000 + 2000 * i) * 0.1).astype(np.float32), text=t)
               for i, t in enumerate(TEXTS)]
    build_manifest(records=records, corpus="c", split="test", audio_dir=tmp / "audio",
                   manifest_path=tmp / "m.parquet", rejected_path=tmp / "r.tsv")
    return tmp / "m.parquet"


def test_score_hypotheses_is_corpus_level_wer_by_hand():
    from udistil.evaluate import score_hypotheses

    table, scores = score_hypotheses(["The cat sat.", "a dog ran"], ["the bat sat", "a dog ran far"], "english")
    assert scores["wer"] == pytest.approx(100 * 2 / 6, abs=1e-4)  # a substitution and an insertion in 6 words
    assert table["reference_norm"].tolist() == ["the cat sat", "a dog ran"]


def test_evaluate_writes_one_row_per_clip_and_metrics(manifest, tiny_random_whisper, tmp_path):
    from udistil.evaluate import EvalSet, evaluate
    from udistil.metrics import wer

    s = EvalSet(manifest, tmp_path / "t.parquet", tmp_path / "m.json", {"corpus": "c", "split": "test"})
    (metrics,) = evaluate(model=str(tiny_random_whisper), sets=[s], options=decode_options(max_new_tokens=4),
                          norm_kind="english", device="cpu", precision="fp32", cache=None, extra={"model": "tiny"})
    table = pd.read_parquet(tmp_path / "t.parquet")
    assert table["id"].tolist() == ["u0", "u1", "u2"] and table["reference"].tolist() == TEXTS
    assert metrics["wer"] == pytest.approx(round(wer(table.reference_norm.tolist(), table.hypothesis_norm.tolist()),
                                                 4))
    assert metrics["n"] == 3 and metrics["audio_seconds"] == pytest.approx((8000 + 10000 + 12000) / 16000)
    assert json.loads((tmp_path / "m.json").read_text())["model"] == "tiny" and metrics["corpus"] == "c"


def test_evaluate_without_references_names_the_manifest(manifest, tiny_random_whisper, tmp_path):
    from udistil.evaluate import EvalSet, evaluate

    m = pd.read_parquet(manifest)
    m.loc[1, "text"] = None
    m.to_parquet(tmp_path / "unlabelled.parquet")
    with pytest.raises(ValueError, match=r"unlabelled.parquet: evaluation needs references.*u1"):
        evaluate(model=str(tiny_random_whisper), sets=[EvalSet(tmp_path / "unlabelled.parquet", tmp_path / "t",
                                                               tmp_path / "j")],
                 options=decode_options(), norm_kind="english", device="cpu", precision="fp32", cache=None)


def test_efficiency_ratios_are_relative_to_the_teacher(monkeypatch):
    from udistil import efficiency

    measured = {"teacher-dir": {"params": 100e6, "decode_seconds": 10.0, "peak_rss_mb": 900.0, "model_peak_mb": 400.0},
                "student-dir": {"params": 60e6, "decode_seconds": 4.0, "peak_rss_mb": 700.0, "model_peak_mb": 240.0}}
    monkeypatch.setattr(efficiency, "measure", lambda location, *a, **k: measured[location])
    models = {"whisper-base": ("teacher", "teacher-dir"), "student-6-3-synth_pool-none": ("student", "student-dir")}
    df = efficiency.efficiency_table(models, ["a.wav"], 20.0, decode_options()).set_index("model")
    student = df.loc["student-6-3-synth_pool-none"]
    assert student["arch"] == "6-3" and df.loc["whisper-base", "arch"] == ""
    assert student["param_ratio"] == pytest.approx(0.6) and student["time_ratio"] == pytest.approx(0.4)
    assert student["rtf"] == pytest.approx(0.2) and df.loc["whisper-base", "time_ratio"] == 1.0


def test_score_jobs_write_tables_with_applied_settings(tmp_path, manifest):
    from udistil.scores import read_score
    from udistil.scores.jobs import run_proxy, run_teacher_stat, run_wer

    labels = pd.DataFrame({"id": ["u0", "u1", "u2"], "pseudo_label": ["the cat sat", "", "birds sang"],
                           "conf": [0.9, 0.2, 0.6], "entropy": [0.1, 2.0, 0.5], "n_tokens": [3, 0, 2],
                           "mean_logprob": [-0.1, -3.0, -0.5]})
    labels.to_parquet(tmp_path / "labels.parquet")
    pd.DataFrame({"id": ["u0", "u1", "u2"], "text": ["the cat sat", "x", "birds sing"]}).to_parquet(tmp_path / "t.p")
    run_teacher_stat(labels=tmp_path / "labels.parquet", stat="conf", out=tmp_path / "conf.parquet")
    run_proxy(labels=tmp_path / "labels.parquet", transcripts=tmp_path / "t.p", norm_kind="english",
              out=tmp_path / "proxy.parquet")
    run_wer(labels=tmp_path / "labels.parquet", manifest=manifest, norm_kind="english", out=tmp_path / "wer.parquet")
    conf, meta = read_score(tmp_path / "conf.parquet")
    assert conf["score"].tolist() == [0.9, -np.inf, 0.6] and conf.loc[1, "reason"] == "empty pseudo-label"
    assert json.loads(meta["settings"]) == {"statistic": "conf"} and meta["keep"] == "high"
    proxy, meta = read_score(tmp_path / "proxy.parquet")
    assert proxy["score"].tolist()[0] == 0.0 and proxy["score"].tolist()[2] == pytest.approx(50.0)
    assert json.loads(meta["settings"])["normalizer"] == "english"
    truth, _ = read_score(tmp_path / "wer.parquet")
    assert truth["score"].tolist()[0] == 0.0 and truth["score"].tolist()[2] == pytest.approx(50.0)


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


def test_job_logging_sends_records_to_the_log_and_goes_offline(tmp_path, monkeypatch):
    import sys

    from udistil.logs import OFFLINE_VARS, job_logging

    for var in OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    stderr = sys.stderr
    with job_logging(str(tmp_path / "job.log"), offline=True) as log:
        log.info("hello from the job")
        print("to stderr", file=sys.stderr)
        assert all(os.environ[v] == "1" for v in OFFLINE_VARS)
    assert sys.stderr is stderr
    text = (tmp_path / "job.log").read_text()
    assert "hello from the job" in text and "to stderr" in text
    with pytest.raises(RuntimeError), job_logging(str(tmp_path / "fail.log"), offline=False):
        raise RuntimeError("boom")
    assert "job failed" in (tmp_path / "fail.log").read_text() and "HF_HUB_OFFLINE" not in os.environ
