import json

import pandas as pd
import pytest

from udistil.plan.rows import matrix_rows, seed_rows
from udistil.results.intervals import Resampling
from udistil.results.paper import claims, claims_markdown, paper_row_name, side_by_side
from udistil.results.tables import MatrixFiles, MatrixSpec, build_matrix_outputs


def write_eval(root, model, corpus, split, errors):
    """An evaluation's table (10-word references, `errors[u]` words wrong in utterance u) and its metrics JSON."""
    from udistil.evaluate.evaluation import score_hypotheses

    refs = [" ".join(f"w{n}" for n in range(10))] * len(errors)
    hyps = [" ".join(["x"] * e + [f"w{n}" for n in range(e, 10)]) for e in errors]
    table, scores = score_hypotheses(refs, hyps, "basic")
    table.insert(0, "id", [f"u{u}" for u in range(len(errors))])
    path = root / "eval" / model / corpus / f"{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path.with_suffix(".parquet"))
    path.write_text(json.dumps({**scores, "model": model, "split": split, "rtf": 0.1}))
    return str(path)


@pytest.fixture
def grid(tmp_path):
    rows = matrix_rows("teacher-m", ["zs"], ["6-3"], ["pool"], ["proxy", "none", "supervised", "conf"])
    sets, splits = ["a", "b", "c"], ["test", "validation"]
    paths = []
    for i, row in enumerate(seed_rows(rows)):
        for j, s in enumerate(sets):
            for k, split in enumerate(splits):
                paths.append(write_eval(tmp_path, row.model, s, split, [(i + j + k + u) % 5 for u in range(20)]))
    return tmp_path, rows, sets, splits, paths


def test_rows_follow_the_papers_grouping():
    rows = matrix_rows("t", ["zs", "t"], ["16-16", "32-16"], ["p"], ["proxy", "none", "sonar", "supervised"])
    assert [r.model for r in rows[:2]] == ["t", "zs"]
    assert [r.filter for r in rows[2:6]] == ["none", "supervised", "proxy", "sonar"]
    assert [r.group for r in rows[2:6]] == ["no-filter", "supervised", "label-free", "label-free"]
    assert rows[6].model == "student-32-16-p-none"


def matrix(paths, rows, sets, benchmark, splits, stand_ins, out, description=None):
    return build_matrix_outputs(
        metric_paths=paths, table_paths=[p.replace(".json", ".parquet") for p in paths],
        spec=MatrixSpec(rows=rows, sets=sets, benchmark=benchmark, splits=splits, stand_ins=stand_ins,
                        description=description),
        resampling=Resampling(200, 0.95, 3),
        out=MatrixFiles(csv=out["csv"], md=out["md"], tex=out["tex"], comparisons_csv=out["ccsv"],
                        comparisons_md=out["cmd"], seeds_csv=out["seeds"], spread_csv=out["spread"]))


def outputs(tmp, stem="m"):
    return {k: tmp / f"{stem}.{k}" for k in ("csv", "md", "tex", "ccsv", "cmd", "seeds", "spread")}


def test_matrix_layout_averages_bold_stand_in_and_intervals(grid):
    tmp, rows, sets, splits, paths = grid
    out = outputs(tmp)
    m = matrix(paths, rows, sets, ["a", "b"], splits, {"conf": "stand-in"}, out)
    points = [c for c in m.columns[5:] if not c.endswith(("_lo", "_hi"))]
    assert points == ["a", "b", "c", "bench_test", "bench_validation",
                      "a_cer", "b_cer", "c_cer", "bench_test_cer", "bench_validation_cer"]
    teacher = m.iloc[0]
    assert (teacher["a"], teacher["b"], teacher["c"]) == (20.0, 20.0, 20.0)  # every model cycles 0..4 errors
    assert teacher["bench_test"] == 20.0 and m.loc[m.model == "student-6-3-pool-conf", "filter"].item() == "conf*"
    for c in points:
        assert (m[f"{c}_lo"] <= m[c]).all() and (m[c] <= m[f"{c}_hi"]).all() and (m[f"{c}_lo"] < m[f"{c}_hi"]).all()
    md = out["md"].read_text()
    assert f"| teacher-m | teacher | 20.00 [{teacher['a_lo']:.2f}, {teacher['a_hi']:.2f}] |" in md
    assert "\\* conf: stand-in." in md and "95% bootstrap interval over training seeds, then utterances" in md
    assert "**" not in md and "a column with no bold has no best resolved by this run" in md  # every column tied
    tex = out["tex"].read_text()
    assert tex.count(r"\toprule") == 2 and "student-6-3-pool-none" in tex
    assert rf"20.00 [{teacher['a_lo']:.2f}, {teacher['a_hi']:.2f}]" in tex and "95% bootstrap" in tex
    assert r"\textbf" not in tex
    first = {p: p.read_bytes() for p in out.values()}
    matrix(paths, rows, sets, ["a", "b"], splits, {"conf": "stand-in"}, out)
    assert {p: p.read_bytes() for p in out.values()} == first  # byte-identical rebuild, intervals included


def test_only_a_best_cell_resolved_against_the_runner_up_is_bold():
    from udistil.results.intervals import Bootstrap
    from udistil.results.tables import resolved_best

    def table(errors):  # 4-word references
        return pd.DataFrame({"id": [f"u{i}" for i in range(len(errors))], "reference_norm": ["a b c d"] * len(errors),
                             "hypothesis_norm": [" ".join(["x"] * e + list("abcd")[e:]) for e in errors]})

    # on set x, m0 is far ahead of m1 and m2; on set y, m2 leads m1 by one word on one utterance of 30
    errors = {"x": {"m0": [0] * 30, "m1": [2] * 30, "m2": [3] * 30},
              "y": {"m0": [3] * 30, "m1": [1] * 30, "m2": [1] * 29 + [0]}}
    boot = Bootstrap({(m, s, "test"): table(e) for s, per in errors.items() for m, e in per.items()}, 400, 0)
    df = pd.DataFrame({"model": ["m0", "m1", "m2"], "group": ["teacher"] * 3,
                       "x": [0.0, 50.0, 75.0], "y": [75.0, 25.0, 2900 / 120], "x_cer": [0.0, 1.0, 2.0],
                       "y_cer": [3.0, 2.0, 1.0]})
    marks = resolved_best(df, boot, ["x"], 0.95)
    assert marks["x"].tolist() == [True, False, False]  # 50 points ahead on every resample
    assert not marks["y"].any()  # 0.25 points ahead: a resample without that utterance ties
    assert not resolved_best(df.assign(x=[0.0, 0.0, 75.0]), boot, ["x"], 0.95)["x"].any()  # a tie


def test_matrix_opens_with_the_runs_description_and_shows_the_filtering_effect(grid):
    tmp, rows, sets, splits, paths = grid
    out = outputs(tmp, "described")
    matrix(paths, rows, sets, ["a", "b"], splits, {}, out, description="A quick demo:\n  plumbing-sized.")
    md = out["md"].read_text()
    assert md.startswith("> A quick demo: plumbing-sized.\n\n### WER (%)")
    assert "### Filtering against no filtering, bench_test" in md and "| 6-3 | pool | student-6-3-pool-" in md
    matrix(paths, rows, sets, ["a", "b"], splits, {}, out)
    assert out["md"].read_text().startswith("### WER (%)")


def test_comparisons_pair_each_student_with_its_baselines(grid):
    tmp, rows, sets, splits, paths = grid
    out = outputs(tmp)
    matrix(paths, rows, sets, ["a", "b"], splits, {}, out)
    pairs = pd.read_csv(out["ccsv"])
    proxy = pairs[pairs["student"] == "student-6-3-pool-proxy"]
    assert set(proxy["other"]) == {"student-6-3-pool-none", "student-6-3-pool-supervised", "teacher-m",
                                   "student-6-3-pool-conf"}
    assert set(zip(pairs["set"], pairs["split"], strict=True)) == {(s, sp) for s in ["a", "b", "c", "bench"]
                                                                   for sp in splits}
    assert (pairs["lo"] <= pairs["hi"]).all()
    m = pd.read_csv(out["csv"]).set_index("model")
    row = pairs[(pairs["student"] == "student-6-3-pool-proxy") & (pairs["other"] == "teacher-m")
                & (pairs["set"] == "bench") & (pairs["split"] == "test")].iloc[0]
    assert row["difference"] == pytest.approx(m.loc["student-6-3-pool-proxy", "bench_test"]
                                              - m.loc["teacher-m", "bench_test"], abs=0.011)
    assert "zs" not in set(pairs["student"]) | set(pairs["other"])  # zero-shot rows are not students
    assert "| student-6-3-pool-none | teacher-m | teacher |" in out["cmd"].read_text()


def test_missing_metric_is_an_error(grid):
    tmp, rows, sets, splits, paths = grid
    with pytest.raises(KeyError):
        matrix(paths[1:], rows, sets, sets, splits, {}, outputs(tmp, "x"))


def test_paper_names_and_side_by_side():
    cfg = {"teacher": "W-L-v2", "pools": {"p500": "++"}, "columns": {"cv15": "CV15"}}
    assert paper_row_name("student-32-16-p500-sonar", "label-free", "32-16", "p500", "sonar", cfg) == \
        "UDW-32-16++ sonar"
    assert paper_row_name("student-16-16-p100-none", "no-filter", "16-16", "p100", "none", cfg) == \
        "NoFilter DW-16-16"
    matrix = pd.DataFrame([{"model": "t", "group": "teacher", "arch": "", "pool": "", "filter": "", "cv15": 20.0},
                           {"model": "s", "group": "supervised", "arch": "16-16", "pool": "p100", "filter":
                            "supervised", "cv15": 21.1}])
    published = pd.read_csv("paper/table1.csv").set_index("model")
    sbs = side_by_side(matrix, published, cfg)
    ran = sbs[sbs["model"] != ""]
    assert ran[["paper_row", "published_wer", "difference"]].values.tolist() == [["W-L-v2", 19.6, 0.4],
                                                                                ["DW-16-16", 22.1, -1.0]]
    # every other Table 1 row is published only: each published cell, the run's set where it has one
    only = sbs[sbs["model"] == ""]
    assert set(only["paper_row"]) == set(published.index) - {"W-L-v2", "DW-16-16"}
    assert only["reproduced_wer"].isna().all() and only["difference"].isna().all()
    amazon = only[only["paper_row"] == "Amazon"]
    assert amazon[["paper_column", "published_wer"]].values.tolist() == [
        ["ALG", 83.6], ["JOR", 45.5], ["PAL", 52.4], ["UAE", 58.8], ["YEM", 64.7]]  # in-house cells only
    hubert = only[only["paper_row"] == "HuBERT"].set_index("paper_column")
    assert len(hubert) == 11 and hubert.loc["CV15", "set"] == "cv15" and hubert.loc["MGB2", "set"] == ""
    assert side_by_side(matrix, published, {**cfg, "columns": {}}).empty  # a config that maps nothing (the demo)


def test_table3_beside_the_paper_by_hand():
    from udistil.results.paper import published_table3, side_by_side_table3, wer_by_category

    cfg = {"teacher": "W-L-v2", "zero_shot": {"sm": "SM4T-L-v2"}, "pools": {"p500": "++"},
           "categories": {"Najdi": "NJD", "Hijazi": "HJZ"}}
    metrics = {("t", "sada", "test"): {"by_category": {"Najdi": {"wer": 50.0, "cer": 20.0, "n": 3},
                                                       "Hijazi": {"wer": 70.0, "cer": 30.0, "n": 2},
                                                       "Other": {"wer": 10.0, "cer": 5.0, "n": 1}}},
               ("sm", "sada", "test"): {"by_category": {"Najdi": {"wer": 52.6, "cer": 20.0, "n": 3}}},
               ("t", "sada", "validation"): {"by_category": {"Najdi": {"wer": 1.0, "cer": 1.0, "n": 1}}}}
    by_cat = wer_by_category(metrics, ["t", "sm"])
    assert by_cat[["model", "split", "category", "n", "wer"]].values.tolist() == [
        ["t", "test", "Hijazi", 2, 70.0], ["t", "test", "Najdi", 3, 50.0], ["t", "test", "Other", 1, 10.0],
        ["t", "validation", "Najdi", 1, 1.0], ["sm", "test", "Najdi", 3, 52.6]]
    rows = [{"model": "t", "group": "teacher", "arch": "", "pool": "", "filter": ""},
            {"model": "sm", "group": "zero-shot", "arch": "", "pool": "", "filter": ""}]
    sbs = side_by_side_table3(by_cat, published_table3(), rows, cfg, "sada")
    ran = sbs[sbs["model"] != ""]
    assert ran[["model", "paper_row", "set", "paper_column", "published_wer", "reproduced_wer",
                "difference"]].values.tolist() == [["t", "W-L-v2", "sada", "HJZ", 63.4, 70.0, 6.6],
                                                   ["t", "W-L-v2", "sada", "NJD", 56.6, 50.0, -6.6],
                                                   ["sm", "SM4T-L-v2", "sada", "NJD", 52.6, 52.6, 0.0]]
    only = sbs[sbs["model"] == ""]
    assert "W-FT" in set(only["paper_row"]) and not {"W-L-v2", "SM4T-L-v2"} & set(only["paper_row"])
    assert set(only.loc[only["paper_column"] == "NJD", "set"]) == {"sada"}
    assert set(only.loc[only["paper_column"] == "MTOS", "set"]) == {""}  # no category of the run maps to it


CELLS = {"t": "t", "n": "student-6-3-p-none", "s": "student-6-3-p-supervised", "a": "student-6-3-p-proxy",
         "b": "student-6-3-p-conf", "c": "student-6-3-p-sonar"}
CLAIMS_MATRIX = pd.DataFrame([
    {"model": CELLS["t"], "group": "teacher", "arch": "", "pool": "", "filter": ""},
    {"model": CELLS["n"], "group": "no-filter", "arch": "6-3", "pool": "p", "filter": "none"},
    {"model": CELLS["s"], "group": "supervised", "arch": "6-3", "pool": "p", "filter": "supervised"},
    {"model": CELLS["a"], "group": "label-free", "arch": "6-3", "pool": "p", "filter": "proxy"},
    {"model": CELLS["b"], "group": "label-free", "arch": "6-3", "pool": "p", "filter": "conf"},
    {"model": CELLS["c"], "group": "label-free", "arch": "6-3", "pool": "p", "filter": "sonar*"},  # a stand-in
])
NEAR_SUPERVISED = "the best label-free filter comes within 1 WER point of supervised filtering, or beats it"
TOP_TWO = "proxy and sonar are the two best label-free filters"
NEAR_TEACHER = "the best student comes within 1 WER point of the teacher, or beats it"
# words wrong of 10 in every utterance: on validation proxy (a) is the best label-free filter and the best
# student, on test conf (b) is better than it
ERRORS = {"test": {"t": 1, "n": 5, "s": 3, "a": 3, "b": 2, "c": 4},
          "validation": {"t": 1, "n": 5, "s": 2, "a": 1, "b": 4, "c": 4}}


def claim_boot(errors=ERRORS):
    from udistil.results.intervals import Bootstrap

    def table(e):
        refs = [" ".join(f"w{n}" for n in range(10))] * 30
        hyps = [" ".join(["x"] * e + [f"w{n}" for n in range(e, 10)])] * 30
        return pd.DataFrame({"id": [f"u{u}" for u in range(30)], "reference_norm": refs, "hypothesis_norm": hyps})

    return Bootstrap({(CELLS[m], "x", split): table(e) for split, per in errors.items() for m, e in per.items()},
                     200, 0)


def test_claims_choose_the_best_on_validation_and_correct_the_family():
    items = claims(CLAIMS_MATRIX, claim_boot(), ["x"], ["test", "validation"], 0.95)
    got = {c["claim"]: c["verdict"] for c in items}
    assert got == {"the best label-free filter beats no filtering": "holds",  # proxy 30 vs none 50
                   NEAR_SUPERVISED: "holds",  # proxy 30 vs supervised 30
                   TOP_TWO: "does not hold",  # proxy is 10 points behind conf on test
                   NEAR_TEACHER: "does not hold"}  # proxy (best on validation) 30 vs teacher 10
    # 4 claims, one member each: the top-two claim's 2 pairs (proxy, sonar vs conf) are one intersection-union test
    assert {c["family"] for c in items} == {4} and {c["comparisons"] for c in items} == {5}
    md = claims_markdown(items, 0.95)
    assert "**students 6-3, pool p**: 4 claims in one family (5 comparisons), corrected with Holm-Bonferroni" in md
    assert "3200 resamples, at least 20 beyond each end" in md  # resamples_for(0.95, 4), above the 200 asked for
    assert "proxy chosen on bench_validation (10.00); test: proxy minus none: difference -20.00 [-20.00, -20.00]" in md
    assert "Holm-adjusted p < 0.001" in md and "Bounds (one-sided, 99.4% each): proxy is at least 20.00 and at most " \
        "20.00 points better than none" in md
    top = next(c for c in items if c["claim"] == TOP_TWO)  # every pair of the member listed at its level
    assert top["listed"] == ["proxy minus conf: difference +10.00 [+10.00, +10.00]",
                             "sonar* minus conf: difference +20.00 [+20.00, +20.00]"]
    assert f"  Its 2 comparisons at {top['level']:.1%}:\n  - proxy minus conf: difference +10.00" in md
    assert "not resolved at this size" not in md and "family-wise error 5%" in md
    assert not any("efficient" in c["claim"] for c in items)  # timings elsewhere


def test_claims_never_choose_on_the_test_split():
    items = claims(CLAIMS_MATRIX, claim_boot({"test": ERRORS["test"]}), ["x"], ["test"], 0.95)
    got = {c["claim"]: c["verdict"] for c in items}
    assert got[NEAR_SUPERVISED] == got[NEAR_TEACHER] == "not resolved by this run"
    assert got[TOP_TWO] == "does not hold"  # names its filters: nothing to choose
    assert "not tested: the run evaluates no split but test" in claims_markdown(items, 0.95)
    assert {c["family"] for c in items if c["claim"] == TOP_TWO} == {1}  # the only claim tested: 2 comparisons


def near_supervised(first: int):
    """The bootstrap of ERRORS with proxy `first` words wrong of 10 on its first test utterance, and its claim
    "within 1 WER point of supervised"."""
    boot = claim_boot({split: dict(per) for split, per in ERRORS.items()})
    proxy = boot.tables[(CELLS["a"], "x", "test")]
    proxy.loc[0, "hypothesis_norm"] = " ".join(["x"] * first + [f"w{n}" for n in range(first, 10)])
    items = claims(CLAIMS_MATRIX, boot, ["x"], ["test", "validation"], 0.95)
    return boot, next(c for c in items if c["claim"] == NEAR_SUPERVISED)


def test_claim_near_its_margin_is_not_resolved():
    # supervised 3 words of 10 wrong, proxy 3 on 29 utterances and 4 on one: +0.33 points, below 1, but a
    # resample that draws that utterance 3 times or more puts the difference at 1 or above
    _, near = near_supervised(4)
    assert near["verdict"] == "not resolved by this run" and "difference +0.33 [+0.00, +1." in near["measured"]
    assert "proxy is at least 0.00 and at most 1.00 points worse than supervised" in near["measured"]


def test_each_claim_states_the_difference_it_would_detect():
    """The detectable difference is (z at the step's two-sided level + z at 80% power) x the standard error of
    the claim's bootstrap draws, here recomputed by hand from the same draws."""
    from statistics import NormalDist

    import numpy as np

    boot, near = near_supervised(5)  # 2 words worse on one utterance of 30: a standard error near 0.67
    drawn = boot.resampled(near["resamples"])
    se = float(np.std(drawn.rates(CELLS["a"], "x", "test", "wer") - drawn.rates(CELLS["s"], "x", "test", "wer"),
                      ddof=1))
    z = NormalDist().inv_cdf
    assert near["se"] == pytest.approx(se) and se > 0.5
    assert near["detectable"] == pytest.approx((z(1 - (1 - near["level"]) / 2) + z(0.8)) * se)
    assert f"Detectable with 80% power: {near['detectable']:.2f} points or more from the boundary" in near["measured"]
    assert "paper's size" not in near["measured"]  # about 2 points: below the paper's own gains (3.1, 4.6)


def test_bounds_and_power_in_words():
    from udistil.results.paper import bound_words, power_words

    assert bound_words("proxy", "none", -11.53, 2.41, 0.992) == (
        "Bounds (one-sided, 99.6% each): proxy is at most 2.41 points worse than none, and at most 11.53 points better")
    assert bound_words("a", "b", -3.0, -1.0, 0.95).endswith("a is at least 1.00 and at most 3.00 points better than b")
    assert bound_words("a", "b", 1.0, 3.0, 0.95).endswith("a is at least 1.00 and at most 3.00 points worse than b")
    assert power_words(9.2, 2.6, 0.992, False).endswith("so this run could not resolve an effect of the paper's size")
    assert power_words(4.0, 1.1, 0.992, True).endswith("more than the paper's smaller gain from filtering (3.1 points)")
    assert "least precise" in power_words(2.0, 0.5, 0.95, True) and "paper" not in power_words(2.0, 0.5, 0.95, True)


def test_wer_by_filter_draws_interval_error_bars(grid, tmp_path):
    from udistil.results.plots import error_bars, wer_by_filter

    _, rows, sets, splits, paths = grid
    m = matrix(paths, rows, sets, ["a", "b"], splits, {}, outputs(tmp_path, "p"))
    bars = error_bars(m.iloc[0], sets)
    assert bars.shape == (2, len(sets)) and (bars >= 0).all() and (bars.sum(axis=0) > 0).all()
    assert error_bars(m[["model", "a"]].iloc[0], ["a"]) is None
    wer_by_filter(m, sets, tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes()[:4] == b"\x89PNG"


def test_latex_table_by_hand():
    """matrix_latex: a booktabs table, `value [lo, hi]`, the marked cells (here the best per column) in bold, a
    rule between groups."""
    from udistil.results.tables import best_marks, matrix_latex

    df = pd.DataFrame([
        {"model": "teacher_m", "group": "teacher", "a": 10.0, "a_lo": 8.0, "a_hi": 12.5, "bench_test": 20.0,
         "bench_test_lo": 18.0, "bench_test_hi": 22.0, "a_cer": 5.0, "bench_test_cer": 9.0},
        {"model": "s-none", "group": "no-filter", "a": 12.0, "a_lo": 9.0, "a_hi": 15.0, "bench_test": 19.5,
         "bench_test_lo": 17.0, "bench_test_hi": 21.0, "a_cer": 4.0, "bench_test_cer": 9.5},
    ])
    bold = best_marks(df, ["a", "bench_test", "a_cer", "bench_test_cer"])
    assert matrix_latex(df, "wer", bold).splitlines() == [
        r"\begin{tabular}{lrr}", r"\toprule", r"Model & a & bench\_test \\", r"\midrule",
        r"teacher\_m & \textbf{10.00 [8.00, 12.50]} & 20.00 [18.00, 22.00] \\", r"\midrule",
        r"s-none & 12.00 [9.00, 15.00] & \textbf{19.50 [17.00, 21.00]} \\", r"\bottomrule", r"\end{tabular}"]
    assert r"\textbf" not in matrix_latex(df, "wer")  # nothing marked, nothing bold
    cer = matrix_latex(df, "cer", bold).splitlines()  # no intervals on CER here: bare values, headers without _cer
    assert cer[2] == r"Model & a & bench\_test \\" and cer[4] == r"teacher\_m & 5.00 & \textbf{9.00} \\"
    assert cer[6] == r"s-none & \textbf{4.00} & 9.50 \\"


def test_one_seed_cells_equal_their_students_own_numbers(grid):
    """With one training seed a cell is its student: the matrix (values and intervals) is the per-seed matrix
    with the cells' names, and its seed spread is empty."""
    tmp, rows, sets, splits, paths = grid
    out = outputs(tmp, "one")
    m = matrix(paths, rows, sets, ["a", "b"], splits, {}, out)
    per_seed = pd.read_csv(out["seeds"])
    assert per_seed["model"].tolist() == [r.runs[0] if r.runs else r.model for r in rows]
    cells = pd.read_csv(out["csv"])
    assert cells["model"].tolist() == [r.model for r in rows]
    pd.testing.assert_frame_equal(cells.drop(columns="model"), per_seed.drop(columns="model"))
    metrics = {(r.runs[0], s): json.loads((tmp / "eval" / r.runs[0] / s / "test.json").read_text())["wer"]
               for r in rows if r.runs for s in sets}
    assert all(m.set_index("model").loc[r.model, s] == metrics[(r.runs[0], s)] for r in rows if r.runs for s in sets)
    spread = pd.read_csv(out["spread"])
    assert spread["model"].tolist() == [r.model for r in rows if r.runs] and (spread["seeds"] == 1).all()
    assert spread["bench_test_sd"].isna().all()


def test_cells_of_several_seeds_average_them_with_two_level_intervals(tmp_path):
    rows = matrix_rows("t", [], ["6-3"], ["p"], ["none", "supervised"], seeds=(1, 2))
    errors = {"t": 1, "student-6-3-p-none-s1": 2, "student-6-3-p-none-s2": 6, "student-6-3-p-supervised-s1": 3,
              "student-6-3-p-supervised-s2": 4}
    paths = [write_eval(tmp_path, run, "a", split, [errors[run] + u % 3 - 1 for u in range(30)])
             for run in errors for split in ("test", "validation")]
    out = outputs(tmp_path)
    m = matrix(paths, rows, ["a"], ["a"], ["test", "validation"], {}, out).set_index("model")
    per_seed = pd.read_csv(out["seeds"]).set_index("model")
    s1, s2 = per_seed.loc["student-6-3-p-none-s1", "a"], per_seed.loc["student-6-3-p-none-s2", "a"]
    assert (s1, s2) == (20.0, 60.0) and m.loc["student-6-3-p-none", "a"] == 40.0  # the mean over seeds
    # the utterance intervals of each seed are narrow and far apart; the cell's interval draws seeds too
    assert per_seed.loc["student-6-3-p-none-s1", "a_hi"] < 25 and per_seed.loc["student-6-3-p-none-s2", "a_lo"] > 55
    assert m.loc["student-6-3-p-none", "a_lo"] < 25 and m.loc["student-6-3-p-none", "a_hi"] > 55
    spread = pd.read_csv(out["spread"]).set_index("model")
    assert spread.loc["student-6-3-p-none", "a_sd"] == pytest.approx(28.2843, abs=1e-4)  # |60 - 20| / sqrt(2)
    assert spread.loc["student-6-3-p-supervised", "seeds"] == 2
    pairs = pd.read_csv(out["ccsv"])
    assert set(pairs["student"]) | set(pairs["other"]) == {"t", "student-6-3-p-none", "student-6-3-p-supervised"}
    sup = pairs[(pairs["student"] == "student-6-3-p-supervised") & (pairs["other"] == "student-6-3-p-none")
                & (pairs["set"] == "a") & (pairs["split"] == "test")].iloc[0]
    assert sup["difference"] == pytest.approx(35.0 - 40.0)
    assert sup["lo"] < -5 < sup["hi"] and sup["verdict"] == "not resolved by this run"  # seed variance
