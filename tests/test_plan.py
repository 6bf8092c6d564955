"""udistil.plan (what a run builds), udistil.filters (the filter registry) and udistil.summary, without Snakemake."""

import copy
from pathlib import Path

import pytest
import yaml

from tests.helpers import filled_config
from udistil import filters, plan
from udistil.config import filled
from udistil.paper import claims_markdown
from udistil.scores import SCORES
from udistil.summary import claim_verdicts, run_summary

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())


@pytest.fixture(scope="module")
def smoke():
    return filled(ROOT / "configs" / "smoke.yaml")


@pytest.fixture(scope="module")
def paper():
    return filled(ROOT / "configs" / "paper.yaml")


def test_run_name_is_the_configs_else_the_config_files_stem():
    assert plan.run_name({"run": "demo"}, ["x/config.yaml"]) == "demo"
    assert plan.run_name({"run": None}, ["a/config.yaml", "configs/evidence.yaml"]) == "evidence"
    with pytest.raises(ValueError, match="config key 'run'"):
        plan.run_name({"run": None}, [])
    assert filled_config()["run"] is None  # the schema default: the file's stem decides
    assert [yaml.safe_load((ROOT / f).read_text())["run"] for f in
            ("config.yaml", "configs/evidence.yaml", "configs/paper.yaml", "configs/smoke.yaml")] == \
        ["demo", "evidence", "paper", "smoke"]


def test_every_output_of_a_run_lies_under_its_own_folder(smoke):
    lay = plan.Layout("smoke")
    outputs = plan.final_outputs(smoke, lay) + plan.reported_outputs(smoke, lay)
    shared = [p for p in outputs if not p.startswith("results/smoke/")]
    assert shared and all(p.startswith("resources/models/") for p in shared)  # converted models stay shared
    assert lay.log("select/x.log") == "logs/smoke/select/x.log"
    assert lay.bench("students/s.tsv") == "results/smoke/benchmarks/students/s.tsv"
    assert lay.student("student-2-1-pool-proxy-s7", "run.json") == \
        "results/smoke/students/student-2-1-pool-proxy-s7/run.json"
    assert smoke["encoder_cache"]["dir"] == "results/cache/encoder"  # shared by every run: keyed by content


def test_model_specs_are_params_independent_of_key_order(smoke):
    cfg = copy.deepcopy(smoke)
    spec = cfg["models"]["tiny-teacher"]
    cfg["models"]["tiny-teacher"] = dict(reversed(list(spec.items())))
    assert repr(plan.model_spec(cfg, "tiny-teacher")) == repr(plan.model_spec(smoke, "tiny-teacher"))
    assert plan.model_spec(cfg, "tiny-teacher") == spec and list(plan.model_spec(cfg, "tiny-teacher")) == sorted(spec)


def test_student_grid_names_and_evaluated_models_of_the_paper(paper):
    names = plan.student_names(paper)
    assert len(names) == 22 and names[0] == "student-16-16-masc100k-none-s42"  # one seed: the run's seed
    assert plan.parse_student_name(names[-1]) == {"arch": "32-16", "pool": "masc500k", "filter": "sonar",
                                                  "seed": "42"}
    assert plan.eval_models(paper)[: 1 + 7] == [paper["teacher"], *paper["evaluation"]["zero_shot"]]
    assert len(plan.eval_models(paper)) == 1 + 7 + 22
    assert plan.pool_scores(paper, "masc500k") == ["proxy", "sonar", "wer"]
    assert plan.efficiency_students(paper) == ["student-16-16-masc100k-none-s42", "student-32-16-masc100k-none-s42"]
    rows = plan.config_matrix_rows(paper)
    assert [r.model for r in rows[8:10]] == ["student-16-16-masc100k-none", "student-16-16-masc100k-supervised"]
    assert rows[8].runs == ("student-16-16-masc100k-none-s42",)  # a cell of one seed


def test_training_seeds_are_an_axis_of_the_student_grid(smoke):
    cfg = copy.deepcopy(smoke)
    one = plan.student_grid(cfg)
    assert plan.training_seeds(cfg) == [smoke["seed"]] and {s for *_, s in one} == {smoke["seed"]}
    cfg["students"]["seeds"] = [5, 11]
    two = plan.student_grid(cfg)
    assert len(two) == 2 * len(one) and two[:2] == [(*one[0][:3], 5), (*one[0][:3], 11)]
    names = plan.student_names(cfg)
    assert names[:2] == [f"student-{one[0][0]}-{one[0][1]}-{one[0][2]}-s5", f"student-{one[0][0]}-{one[0][1]}-"
                                                                          f"{one[0][2]}-s11"]
    assert [plan.parse_student_name(n) for n in names] == [dict(zip(("arch", "pool", "filter", "seed"),
                                                                    (*g[:3], str(g[3])), strict=True)) for g in two]
    assert plan.parse_student_name("student-2-1-pool-proxy") is None  # a cell is no trained student
    assert plan.cell_of(names[1]) == plan.cell_name(*one[0][:3]) and plan.cell_of("whisper-base") == "whisper-base"
    lay = plan.Layout("x")
    assert {lay.student(n, "run.json") for n in names} <= set(plan.final_outputs(cfg, lay))
    assert len(plan.eval_models(cfg)) == len(plan.eval_models(smoke)) + len(one)


def test_each_students_training_seed_is_its_own(smoke):
    from udistil.distill import TrainConfig

    cfg = copy.deepcopy(smoke)
    cfg["students"]["seeds"] = [5, 11]
    seeds = [TrainConfig.from_dict(plan.training_config(cfg, seed)).seed for *_, seed in plan.student_grid(cfg)]
    assert seeds[:2] == [5, 11] and set(seeds) == {5, 11}
    a, b = plan.training_config(cfg, 5), plan.training_config(cfg, 11)
    assert {k for k in a if a[k] != b[k]} == {"seed"}  # the seed is all that differs between a cell's students


def test_matrix_cells_average_their_seeds_students(smoke):
    cfg = copy.deepcopy(smoke)
    cfg["students"]["seeds"] = [5, 11]
    rows = plan.config_matrix_rows(cfg)
    cells = plan.row_cells(rows)
    students = [r for r in rows if r.runs]
    assert len(cells) == len(students) == len(plan.student_names(cfg)) // 2
    assert all(runs == [f"{cell}-s5", f"{cell}-s11"] for cell, runs in cells.items())
    per_seed = plan.seed_rows(rows)
    assert sorted(r.model for r in per_seed if r.arch) == sorted(plan.student_names(cfg))
    assert [r.model for r in per_seed if r.arch][:2] == list(cells[students[0].model])  # a cell's seeds together
    assert [r.model for r in per_seed if not r.arch] == [r.model for r in rows if not r.arch]  # teacher, zero-shot
    as_params = [{**vars(r), "runs": list(r.runs)} for r in rows]  # what a script gets back from Snakemake
    assert [plan.row_from_params(p) for p in as_params] == rows


def test_filter_scores_and_selection_rules_follow_the_registry(smoke):
    cfg = copy.deepcopy(smoke)
    sel = cfg["selection"]
    sel.update(supervised_threshold=50, supervised_comparison="<", per_filter={"conf": {"mode": "fraction",
                                                                                      "value": 0.5}})
    sel["combined"] = {"scores": ["proxy", "pesq"], "mode": "threshold", "value": 0.3}
    assert plan.filter_scores(cfg, "none") == [] and plan.filter_scores(cfg, "supervised") == ["wer"]
    assert plan.filter_scores(cfg, "combined") == ["proxy", "pesq"] and plan.filter_scores(cfg, "nnll") == ["nnll"]
    assert plan.selection_rule(cfg, "none") == {"mode": "all", "value": None}
    assert plan.selection_rule(cfg, "supervised") == {"mode": "threshold", "value": 50, "strict": True}
    assert plan.selection_rule(cfg, "conf") == {"mode": "fraction", "value": 0.5, "strict": False}
    assert plan.selection_rule(cfg, "pesq")["mode"] == sel["default"]["mode"]
    assert plan.selection_rule(cfg, "combined") == {"mode": "threshold", "value": 0.3, "strict": False}


def test_label_free_scores_used_include_the_combined_filters(smoke):
    cfg = copy.deepcopy(smoke)
    cfg["filters"] = ["none", "supervised", "combined"]
    cfg["selection"]["combined"] = {"scores": ["pesq", "conf"], "mode": "match_supervised", "value": None}
    assert plan.label_free_used(cfg) == ["conf", "pesq"]  # in the order of udistil.scores.LABEL_FREE
    assert plan.filter_analysis(cfg)
    cfg["filters"] = ["none", "supervised"]
    assert plan.label_free_used(cfg) == [] and not plan.filter_analysis(cfg)


def test_training_config_is_the_whole_train_config_mapping(smoke):
    from udistil.distill import TrainConfig

    train = plan.training_config(smoke, smoke["seed"])
    assert train["deterministic"] == smoke["deterministic"] and train["cache"] == smoke["encoder_cache"]
    assert TrainConfig.from_dict(dict(train)).seed == smoke["seed"]
    val = plan.validation_settings(smoke)
    assert val is not None and val["decoding"]["language"] == smoke["language"]
    assert plan.validation_settings(filled_config()) is None  # no validation set: no validation


def test_minimal_config_plans_no_students_and_no_report():
    cfg = filled_config()
    lay = plan.Layout(plan.run_name(cfg, ["configs/minimal.yaml"]))
    out = plan.final_outputs(cfg, lay)
    assert plan.student_names(cfg) == [] and "results/minimal/report.html" not in out
    assert "results/minimal/subsets/pool/supervised.json" in out and "results/minimal/config.yaml" in out
    assert [r.model for r in plan.config_matrix_rows(cfg)] == ["tiny-teacher"]


def test_registry_covers_every_filter_the_schema_allows():
    allowed = SCHEMA["properties"]["filters"]["items"]["enum"]
    assert list(filters.FILTERS) == allowed
    assert set(SCHEMA["properties"]["selection"]["properties"]["per_filter"]["propertyNames"]["enum"]) == \
        set(filters.LABEL_FREE_FILTERS)
    assert {f.group for f in filters.FILTERS.values()} == set(filters.STUDENT_GROUPS)
    for name in filters.LABEL_FREE_FILTERS:
        assert filters.FILTERS[name].keep == SCORES[name].keep
    assert filters.FILTERS["supervised"].keep == "low" and filters.FILTERS["combined"].keep is None


def test_matrix_rows_and_paper_rows_read_the_groups():
    rows = plan.matrix_rows("t", [], ["6-3"], ["p"], ["proxy", "combined", "none", "supervised"])
    assert [(r.filter, r.group) for r in rows[1:]] == [("none", "no-filter"), ("supervised", "supervised"),
                                                         ("proxy", "label-free"), ("combined", "label-free")]
    assert filters.paper_row("no-filter", "32-16", "", "none") == "NoFilter DW-32-16"
    assert filters.paper_row("supervised", "16-16", "++", "supervised") == "DW-16-16++"
    assert filters.paper_row("label-free", "16-16", "", "sonar*") == "UDW-16-16 sonar"


def test_run_summary_names_the_outputs_and_each_claims_verdict(tmp_path):
    items = [{"claim": "the best label-free filter beats no filtering", "scope": "students 2-1, pool pool",
              "verdict": "holds", "boundary": 0.0, "measured": "proxy 30.00 vs none 35.00: difference -5.00",
              "family": 2},
             {"claim": "the best student comes within 1 WER point of the teacher, or beats it",
              "scope": "students 2-1, pool pool", "verdict": "not resolved by this run", "boundary": 1.0,
              "measured": "x", "family": 2}]
    md = claims_markdown(items, 0.95)
    assert claim_verdicts(md) == [(i["verdict"], i["claim"], i["scope"]) for i in items]
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "paper_claims.md").write_text(md)
    (tmp_path / "tables" / "result_matrix.md").write_text("|")
    text = run_summary(tmp_path)
    assert f"result matrix: {tmp_path}/tables/result_matrix.md" in text and "report:" not in text
    assert "[not resolved by this run] the best student comes within 1 WER point" in text
    assert len(text.splitlines()) == 1 + 2 + 2
