"""A run's per-utterance error table, an interval recomputed from it, the power tool, and a set's resample mode
through the result matrix: on small synthetic run folders whose answers follow by hand."""

import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import yaml

from udistil.plan.rows import matrix_rows, row_cells
from udistil.results.intervals import Bootstrap, Resampling, interval, seed_draws
from udistil.results.paper import PAPER_DIR, run_comparison
from udistil.results.power import design, needed, variance_split
from udistil.results.power import main as power_main
from udistil.results.recompute import main as recompute_main
from udistil.results.recompute import recompute
from udistil.results.table_io import load_tables
from udistil.results.tables import MatrixFiles, MatrixSpec, build_matrix_outputs
from udistil.results.utterance_errors import Run

ROWS = matrix_rows("t", [], ["6-3"], ["p"], ["none", "proxy"], seeds=(1, 2))
NONE, PROXY = "student-6-3-p-none", "student-6-3-p-proxy"
UTTERANCES = 40
WORDS = " ".join(f"w{n}" for n in range(10))


def base(u: int) -> int:
    """Words wrong of 10 in utterance u for the no-filter students (both seeds alike) and the teacher."""
    return 3 + u % 4


# proxy's seeds differ by a constant on every utterance: the difference to none moves with the seeds only
SEEDS_ONLY = {"t": base, f"{NONE}-s1": base, f"{NONE}-s2": base,
              f"{PROXY}-s1": lambda u: base(u) - 1, f"{PROXY}-s2": lambda u: base(u) - 3}
# proxy's seeds alike, 2 words better than none on every other utterance: the difference moves with utterances only
UTTERANCES_ONLY = {**SEEDS_ONLY, f"{PROXY}-s1": lambda u: base(u) - 2 * (u % 2),
                   f"{PROXY}-s2": lambda u: base(u) - 2 * (u % 2)}


def write_run(root, wrong, resample=None, groups=None):
    """A finished run under `root` (results/<run>): evaluation tables, config.yaml, the result_matrix and
    paper_comparison jobs' tables, and benchmark files (100 s per student, 8 s per model's evaluation)."""
    config = {"seed": 3, "uncertainty": {"resamples": 400, "confidence": 0.95},
              "evaluation": {"sets": ["a"], "splits": ["test", "validation"], "benchmark": None,
                             "resample": resample or {}}}
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    paths = []
    for run, errors in wrong.items():
        for split in ("test", "validation"):
            path = root / "eval" / run / "a" / f"{split}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            hyps = [" ".join(["x"] * errors(u) + WORDS.split()[errors(u):]) for u in range(UTTERANCES)]
            table = pd.DataFrame({"id": [f"u{u}" for u in range(UTTERANCES)], "reference_norm": [WORDS] * UTTERANCES,
                                  "hypothesis_norm": hyps})
            if groups:
                table["group"] = [groups[u % len(groups)] for u in range(UTTERANCES)]
            table.to_parquet(path)
            wer = 100 * sum(errors(u) for u in range(UTTERANCES)) / (10 * UTTERANCES)
            path.with_suffix(".json").write_text(json.dumps({"wer": wer, "cer": wer}))
            paths.append(str(path))
        bench = root / "benchmarks" / ("students" if run.startswith("student") else "evaluate") / f"{run}.tsv"
        bench.parent.mkdir(parents=True, exist_ok=True)
        bench.write_text("s\th:m:s\tmax_rss\n100.0\t0:01:40\t1\n")
        (root / "benchmarks" / "evaluate" / f"{run}.tsv").write_text("s\th:m:s\tmax_rss\n8.0\t0:00:08\t1\n")
    t = root / "tables"
    t.mkdir()
    build_matrix_outputs(
        metric_paths=[p.replace(".parquet", ".json") for p in paths], table_paths=paths,
        spec=MatrixSpec(rows=ROWS, sets=["a"], benchmark=["a"], splits=["test", "validation"], stand_ins={},
                        resample=resample or {}),
        resampling=Resampling(400, 0.95, 3),
        out=MatrixFiles(csv=str(t / "result_matrix.csv"), md=str(t / "result_matrix.md"), tex=str(t / "m.tex"),
                        comparisons_csv=str(t / "comparisons.csv"), comparisons_md=str(t / "comparisons.md"),
                        seeds_csv=str(t / "seeds.csv"), spread_csv=str(t / "spread.csv"),
                        errors=str(t / "utterance_errors.parquet")))
    run_comparison(matrix_csv=str(t / "result_matrix.csv"), table_paths=paths, table1_csv=str(PAPER_DIR / "table1.csv"),
                   cfg={}, benchmark=["a"], splits=["test", "validation"], resamples=400, seed=3, confidence=0.95,
                   out_claims=str(t / "paper_claims.md"), out_side_by_side=str(t / "paper_vs_run.csv"),
                   description=None, cells=row_cells(ROWS), modes=resample or {})
    return paths


def test_the_error_table_holds_every_runs_counts_and_gives_the_same_bootstrap(tmp_path):

    root = tmp_path / "results" / "toy"
    paths = write_run(root, UTTERANCES_ONLY, groups=["v1", "v2", "v3"])
    run = Run.read(root)
    e = run.errors
    assert len(e) == 5 * 2 * UTTERANCES and list(e.columns) == ["cell", "model", "seed", "set", "split", "id", "group",
                                                                 "errors", "words", "char_errors", "chars"]
    s2 = e[(e["model"] == f"{PROXY}-s2") & (e["split"] == "test")]
    assert (s2["cell"] == PROXY).all() and (s2["seed"] == 2).all() and s2["words"].eq(10).all()
    assert s2["errors"].tolist() == [base(u) - 2 * (u % 2) for u in range(UTTERANCES)]
    assert e.loc[e["model"] == "t", "seed"].isna().all() and set(s2["group"]) == {"v1", "v2", "v3"}
    from_tables = Bootstrap(load_tables(paths), 400, 3, cells=row_cells(ROWS))
    for cell in ("t", NONE, PROXY):
        for metric in ("wer", "cer"):
            assert (run.bootstrap().rates(cell, "a", "test", metric) == from_tables.rates(cell, "a", "test", metric)
                    ).all()


def test_recompute_matches_comparisons_and_the_claims_interval(tmp_path):

    root = tmp_path / "results" / "toy"
    write_run(root, UTTERANCES_ONLY)
    run = Run.read(root)
    r = recompute(run, PROXY, NONE)
    pairs = pd.read_csv(root / "tables" / "comparisons.csv")
    row = pairs[(pairs["student"] == PROXY) & (pairs["other"] == NONE) & (pairs["set"] == "bench")
                & (pairs["split"] == "test")].iloc[0]
    assert (r["difference"], r["lo"], r["hi"]) == (row["difference"], row["lo"], row["hi"])  # to the last digit
    # the claim "the best label-free filter beats no filtering": proxy vs none, step 1 of 2 at 97.5%, on 1600
    # resamples (resamples_for(0.95, 2))
    claims_md = (root / "tables" / "paper_claims.md").read_text()
    assert "2 claims in one family (2 comparisons)" in claims_md and "1600 resamples" in claims_md
    claim = recompute(run, PROXY, NONE, confidence=0.975, resamples=1600)
    assert (f"proxy minus none: difference {claim['difference']:+.2f} [{claim['lo']:+.2f}, {claim['hi']:+.2f}] "
            "(97.5% interval") in claims_md
    text = recompute_main([str(root), PROXY, NONE])
    assert f"[{row['lo']:+.4f}, {row['hi']:+.4f}]" in text and text.count(f"{row['difference']:+.4f}") == 2


def test_power_splits_seed_variance_from_utterance_variance_and_plans_by_hand(tmp_path):

    z = NormalDist().inv_cdf
    root = tmp_path / "results" / "seeds"
    write_run(root, SEEDS_ONLY)
    run = Run.read(root)
    boot = run.bootstrap(1600)
    split = variance_split(boot, PROXY, NONE, ["a"], "test")
    # none's seeds are alike and proxy's seed s is c_s = -1 or -3 words per utterance below them: on any draw of
    # utterances the difference is 10 x the mean of the drawn c_s (WER points); with the seeds frozen, -20
    by_hand = np.var(10 * np.array([-1, -3])[seed_draws(2, 1600, 3, PROXY)].mean(axis=1), ddof=1)
    assert split.seeds == pytest.approx(by_hand) and split.total == pytest.approx(by_hand)
    assert split.seeds == pytest.approx(50, rel=0.1)  # its expectation: (10 x 2)^2 / 8
    assert split.utterances == pytest.approx(0, abs=1e-12)
    d = design(run)
    assert (d.seeds, d.utterances, d.cells, d.models, d.evaluated_per_model) == (2, 40, 2, 5, 80)
    assert (d.train_s, d.eval_s_per_utterance) == (100.0, pytest.approx(40 / 400))
    se_2 = 2 / (z(1 - 0.025 / 2) + z(0.8))  # the SE that detects 2 points at the claim's 97.5% level
    n = needed(split, d, 0.975, 2.0)
    assert n["seeds"] == math.ceil(2 * by_hand / se_2 ** 2) and math.isinf(n["utterances"])
    assert n["factor"] == pytest.approx(by_hand / se_2 ** 2)
    text = power_main([str(root)])
    detectable = (z(1 - 0.025 / 2) + z(0.8)) * math.sqrt(by_hand)
    assert f"detectable at 80% power: {detectable:.2f} WER points (2 seeds per cell, 40 test utterances" in text
    cost = (n["seeds"] - 2) * 2 * (100 + 80 * 0.1)  # per new student: training, and 80 utterances evaluated
    assert f"for 2 points: {n['seeds']} seeds ({cost / 3600:.1f} h) with today's utterances" in text
    assert "no number of utterances reaches it with today's seeds" in text and "seed share 100%" in text


def test_power_of_a_difference_that_moves_with_utterances_only(tmp_path):

    root = tmp_path / "results" / "utts"
    write_run(root, UTTERANCES_ONLY)
    run = Run.read(root)
    boot = run.bootstrap(1600)
    split = variance_split(boot, PROXY, NONE, ["a"], "test")
    w = boot.weights("a", "test")
    better = np.array([2 * (u % 2) for u in range(UTTERANCES)])  # proxy's fewer errors per utterance
    by_hand = np.var(-100 * (w @ better) / (w @ np.full(UTTERANCES, 10)), ddof=1)
    assert split.utterances == pytest.approx(by_hand) and split.total == pytest.approx(by_hand)
    assert split.seeds == pytest.approx(0, abs=1e-12)
    z = NormalDist().inv_cdf
    se_1 = 1 / (z(1 - 0.025 / 2) + z(0.8))
    n = needed(split, design(run), 0.975, 1.0)
    assert n["utterances"] == math.ceil(40 * by_hand / se_1 ** 2) and math.isinf(n["seeds"])


def test_a_sets_resample_mode_travels_through_the_matrix_spec(tmp_path):
    default, strata = tmp_path / "results" / "groups", tmp_path / "results" / "strata"
    paths = write_run(default, UTTERANCES_ONLY, groups=["v1", "v2"])
    write_run(strata, UTTERANCES_ONLY, resample={"a": "within_groups"}, groups=["v1", "v2"])
    a, b = (pd.read_csv(r / "tables" / "result_matrix.csv").set_index("model") for r in (default, strata))
    expected = interval(Bootstrap(load_tables(paths), 400, 3, cells=row_cells(ROWS), modes={"a": "within_groups"})
                        .rates(PROXY, "a", "test", "wer"), 0.95)
    assert (b.loc[PROXY, "a_lo"], b.loc[PROXY, "a_hi"]) == pytest.approx(expected, abs=1e-4)
    assert (a.loc[PROXY, "a_lo"], a.loc[PROXY, "a_hi"]) != (b.loc[PROXY, "a_lo"], b.loc[PROXY, "a_hi"])
