"""udistil.plan (what a run builds), udistil.selection.filters (the filter registry) and udistil.results.summary,
without Snakemake."""

import copy
from pathlib import Path

import pytest
import yaml

from tests.helpers import filled_config
from udistil.config.validate import ConfigError, filled, load_schema, schema_text, validate
from udistil.plan import grid, layout, settings, targets
from udistil.plan import rows as plan_rows
from udistil.results.paper import claims_markdown
from udistil.results.summary import claim_verdicts, run_summary
from udistil.scores import SCORES, ScoreInfo
from udistil.selection import filters

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = load_schema()


@pytest.fixture(scope="module")
def smoke():
    return filled(ROOT / "configs" / "smoke.yaml")


@pytest.fixture(scope="module")
def paper():
    return filled(ROOT / "configs" / "paper.yaml")


def test_run_name_is_the_configs_else_the_config_files_stem():
    assert layout.run_name({"run": "demo"}, ["x/config.yaml"]) == "demo"
    assert layout.run_name({"run": None}, ["a/config.yaml", "configs/evidence.yaml"]) == "evidence"
    with pytest.raises(ValueError, match="config key 'run'"):
        layout.run_name({"run": None}, [])
    assert filled_config()["run"] is None  # the schema default: the file's stem decides
    assert [yaml.safe_load((ROOT / f).read_text())["run"] for f in
            ("config.yaml", "configs/evidence.yaml", "configs/paper.yaml", "configs/smoke.yaml")] == \
        ["demo", "evidence", "paper", "smoke"]


def test_every_output_of_a_run_lies_under_its_own_folder(smoke):
    lay = layout.Layout("smoke")
    outputs = targets.final_outputs(smoke, lay) + targets.reported_outputs(smoke, lay)
    shared = [p for p in outputs if not p.startswith("results/smoke/")]
    assert shared and all(p.startswith("resources/models/") for p in shared)  # converted models stay shared
    assert lay.log("select/x") == "logs/smoke/select/x.log"
    assert lay.bench("students/s") == "results/smoke/benchmarks/students/s.tsv"
    assert lay.student("student-2-1-pool-proxy-s7", "run.json") == \
        "results/smoke/students/student-2-1-pool-proxy-s7/run.json"
    assert smoke["encoder_cache"]["dir"] == "results/cache/encoder"  # shared by every run: keyed by content


def test_each_pool_and_each_of_its_filters_is_exported_as_a_dataset(smoke, paper):
    lay = layout.Layout("paper")
    folders = targets.dataset_folders(paper, lay)
    assert set(folders) <= set(targets.final_outputs(paper, lay))
    assert folders[0] == "results/paper/datasets/masc100k/all" and lay.dataset("masc100k", "proxy") in folders
    assert len(folders) == 2 + sum(len(grid.pool_filters(paper, p)) for p in paper["pools"]) == 2 + 8 + 3
    assert "results/paper/datasets/masc500k/nnll" not in folders  # the 500K pool trains three filters
    assert "all" not in filters.names()  # the pool's own folder is no filter's


def test_model_cards_name_hub_sets_by_their_hub_id(smoke, paper):
    assert settings.hub_datasets(paper)["fleurs"] == {"type": "google/fleurs", "config": "ar_eg"}
    assert settings.hub_datasets(paper)["mgb2"] == {"type": "UBC-NLP/MGB2-Eval", "config": None}
    assert settings.hub_datasets(smoke) == {"clean": {"type": "clean", "config": None},
                                            "noisy": {"type": "noisy", "config": None}}  # synthetic: the name


def test_model_specs_are_params_independent_of_key_order(smoke):
    cfg = copy.deepcopy(smoke)
    spec = cfg["models"]["tiny-teacher"]
    cfg["models"]["tiny-teacher"] = dict(reversed(list(spec.items())))
    assert repr(grid.model_spec(cfg, "tiny-teacher")) == repr(grid.model_spec(smoke, "tiny-teacher"))
    assert grid.model_spec(cfg, "tiny-teacher") == spec and list(grid.model_spec(cfg, "tiny-teacher")) == sorted(spec)


def test_student_grid_names_and_evaluated_models_of_the_paper(paper):
    names = grid.student_names(paper)
    assert len(names) == 22 and names[0] == "student-16-16-masc100k-none-s42"  # one seed: the run's seed
    assert grid.parse_student_name(names[-1]) == {"arch": "32-16", "pool": "masc500k", "filter": "sonar",
                                                  "seed": "42"}
    assert grid.eval_models(paper)[: 1 + 7] == [paper["teacher"], *paper["evaluation"]["zero_shot"]]
    assert len(grid.eval_models(paper)) == 1 + 7 + 22
    assert grid.pool_scores(paper, "masc500k") == ["proxy", "sonar", "wer"]
    assert grid.efficiency_students(paper) == ["student-16-16-masc100k-none-s42", "student-32-16-masc100k-none-s42"]
    rows = plan_rows.config_matrix_rows(paper)
    assert [r.model for r in rows[8:10]] == ["student-16-16-masc100k-none", "student-16-16-masc100k-supervised"]
    assert rows[8].runs == ("student-16-16-masc100k-none-s42",)  # a cell of one seed


def test_training_seeds_are_an_axis_of_the_student_grid(smoke):
    cfg = copy.deepcopy(smoke)
    one = grid.student_grid(cfg)
    assert grid.training_seeds(cfg) == [smoke["seed"]] and {s for *_, s in one} == {smoke["seed"]}
    cfg["students"]["seeds"] = [5, 11]
    two = grid.student_grid(cfg)
    assert len(two) == 2 * len(one) and two[:2] == [(*one[0][:3], 5), (*one[0][:3], 11)]
    names = grid.student_names(cfg)
    assert names[:2] == [f"student-{one[0][0]}-{one[0][1]}-{one[0][2]}-s5", f"student-{one[0][0]}-{one[0][1]}-"
                                                                          f"{one[0][2]}-s11"]
    assert [grid.parse_student_name(n) for n in names] == [dict(zip(("arch", "pool", "filter", "seed"),
                                                                    (*g[:3], str(g[3])), strict=True)) for g in two]
    assert grid.parse_student_name("student-2-1-pool-proxy") is None  # a cell is no trained student
    assert grid.cell_of(names[1]) == grid.cell_name(*one[0][:3]) and grid.cell_of("whisper-base") == "whisper-base"
    lay = layout.Layout("x")
    assert {lay.student(n, "run.json") for n in names} <= set(targets.final_outputs(cfg, lay))
    assert len(grid.eval_models(cfg)) == len(grid.eval_models(smoke)) + len(one)


def test_each_students_training_seed_is_its_own(smoke):
    from udistil.distill import TrainConfig

    cfg = copy.deepcopy(smoke)
    cfg["students"]["seeds"] = [5, 11]
    seeds = [TrainConfig.from_dict(settings.training(cfg, seed)).seed for *_, seed in grid.student_grid(cfg)]
    assert seeds[:2] == [5, 11] and set(seeds) == {5, 11}
    a, b = settings.training(cfg, 5), settings.training(cfg, 11)
    assert {k for k in a if a[k] != b[k]} == {"seed"}  # the seed is all that differs between a cell's students


def test_matrix_cells_average_their_seeds_students(smoke):
    cfg = copy.deepcopy(smoke)
    cfg["students"]["seeds"] = [5, 11]
    rows = plan_rows.config_matrix_rows(cfg)
    cells = plan_rows.row_cells(rows)
    students = [r for r in rows if r.runs]
    assert len(cells) == len(students) == len(grid.student_names(cfg)) // 2
    assert all(runs == [f"{cell}-s5", f"{cell}-s11"] for cell, runs in cells.items())
    per_seed = plan_rows.seed_rows(rows)
    assert sorted(r.model for r in per_seed if r.arch) == sorted(grid.student_names(cfg))
    assert [r.model for r in per_seed if r.arch][:2] == list(cells[students[0].model])  # a cell's seeds together
    assert [r.model for r in per_seed if not r.arch] == [r.model for r in rows if not r.arch]  # teacher, zero-shot
    as_params = [{**vars(r), "runs": list(r.runs)} for r in rows]  # what a script gets back from Snakemake
    assert [plan_rows.row_from_params(p) for p in as_params] == rows


def test_filter_scores_and_selection_rules_follow_the_registry(smoke):
    cfg = copy.deepcopy(smoke)
    sel = cfg["selection"]
    sel.update(supervised_threshold=50, supervised_comparison="<", per_filter={"conf": {"mode": "fraction",
                                                                                      "value": 0.5}})
    sel["combined"] = {"scores": ["proxy", "pesq"], "mode": "threshold", "value": 0.3}
    assert grid.filter_scores(cfg, "none") == [] and grid.filter_scores(cfg, "supervised") == ["wer"]
    assert grid.filter_scores(cfg, "combined") == ["proxy", "pesq"] and grid.filter_scores(cfg, "nnll") == ["nnll"]
    assert settings.selection_rule(cfg, "none") == {"mode": "all", "value": None}
    assert settings.selection_rule(cfg, "supervised") == {"mode": "threshold", "value": 50, "strict": True}
    assert settings.selection_rule(cfg, "conf") == {"mode": "fraction", "value": 0.5, "strict": False}
    assert settings.selection_rule(cfg, "pesq")["mode"] == sel["default"]["mode"]
    assert settings.selection_rule(cfg, "combined") == {"mode": "threshold", "value": 0.3, "strict": False}


def test_label_free_scores_used_include_the_combined_filters(smoke):
    cfg = copy.deepcopy(smoke)
    cfg["filters"] = ["none", "supervised", "combined"]
    cfg["selection"]["combined"] = {"scores": ["pesq", "conf"], "mode": "match_supervised", "value": None}
    assert grid.label_free_used(cfg) == ["conf", "pesq"]  # in the order of udistil.scores.label_free()
    assert grid.filter_analysis(cfg)
    cfg["filters"] = ["none", "supervised"]
    assert grid.label_free_used(cfg) == [] and not grid.filter_analysis(cfg)


def test_training_config_is_the_whole_train_config_mapping(smoke):
    from udistil.distill import TrainConfig

    train = settings.training(smoke, smoke["seed"])
    assert train["deterministic"] == smoke["deterministic"] and train["cache"] == smoke["encoder_cache"]
    assert TrainConfig.from_dict(dict(train)).seed == smoke["seed"]
    val = settings.validation(smoke)
    assert val is not None and val["decoding"]["language"] == smoke["language"]
    assert settings.validation(filled_config()) is None  # no validation set: no validation


@pytest.mark.parametrize(("device", "planner_has_gpu", "gpus"),
                         [("cuda", False, 1), ("cuda", True, 1), ("cpu", True, 0), ("auto", True, 1),
                          ("auto", False, 0)])
def test_gpu_jobs_ask_for_a_gpu_where_the_planning_machine_decides(device, planner_has_gpu, gpus):
    """`auto` is resolved when the run is planned: on a GPU workstation its model jobs ask for gpu=1, so the
    profile's cap keeps them from piling onto one card; `cuda` asks whatever the planning machine has (a
    cluster's login node has no GPU), `cpu` never. Availability is asked only under `auto`."""
    asked = []

    def available():
        asked.append(True)
        return planner_has_gpu

    assert settings.gpus(filled_config(device=device), cuda_available=available) == gpus
    assert asked == ([True] if device == "auto" else [])


@pytest.mark.parametrize("has_gpu", [True, False])
def test_auto_asks_torch_of_the_planning_machine_by_default(monkeypatch, has_gpu):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_gpu)
    assert settings.gpus(filled_config(device="auto")) == int(has_gpu)


def test_minimal_config_plans_no_students_and_no_report():
    cfg = filled_config()
    lay = layout.Layout(layout.run_name(cfg, ["configs/minimal.yaml"]))
    out = targets.final_outputs(cfg, lay)
    assert grid.student_names(cfg) == [] and "results/minimal/report.html" not in out
    assert "results/minimal/subsets/pool/supervised.json" in out and "results/minimal/config.yaml" in out
    assert [r.model for r in plan_rows.config_matrix_rows(cfg)] == ["tiny-teacher"]


def test_the_schema_file_lists_the_registries_names():
    """The schema's registry lines are generated (`make docs`): this fails when a filter or score was added to the
    registry and the file was not regenerated."""
    text = (ROOT / "schemas" / "config.schema.yaml").read_text()
    assert schema_text(text) == text, "schemas/config.schema.yaml is stale: run `make docs`"
    assert SCHEMA["$defs"]["filter"]["enum"] == filters.names()
    assert SCHEMA["$defs"]["label_free_score"]["enum"] == filters.label_free_filters()
    for key in (SCHEMA["properties"]["filters"]["items"],
                SCHEMA["properties"]["filters_per_pool"]["additionalProperties"]["items"]):
        assert key == {"$ref": "#/$defs/filter"}


def test_registry_groups_and_directions():
    registry = filters.registry()
    assert {f.group for f in registry.values()} == set(filters.STUDENT_GROUPS)
    for name in filters.label_free_filters():
        assert registry[name].keep == SCORES[name].keep
    assert registry["supervised"].keep == "low" and registry["combined"].keep is None
    assert filters.needs_labels("supervised", {}) and not filters.needs_labels("proxy", {})
    with pytest.raises(ValueError, match="unknown filter 'nope'"):
        filters.get("nope")


@pytest.fixture
def short_filter(monkeypatch):
    """A filter added through the registry alone: a score read from the pseudo-labelling pass (the token count,
    keep high), whose score function is the teacher statistics' own."""
    monkeypatch.setitem(SCORES, "n_tokens", ScoreInfo("n_tokens", "high", "pseudo-label length in tokens",
                                                       from_pseudo_labels=True))
    return "n_tokens"


def test_a_filter_added_to_the_registry_alone_is_validated_planned_and_selected(short_filter, tmp_path):
    import pandas as pd

    from udistil.scores.teacher import teacher_score
    from udistil.selection.select import run_select

    cfg = filled_config(filters=["none", "supervised", short_filter])  # the schema takes it from the registry
    lay = layout.Layout("x")
    assert short_filter in filters.names() and filters.group(short_filter) == filters.LABEL_FREE
    assert grid.student_names(cfg) == [] and grid.label_free_used(cfg) == [short_filter]
    assert lay.score("pool", short_filter) in targets.score_files(cfg, lay)
    assert lay.subset("pool", short_filter, "json") in targets.final_outputs(cfg, lay)
    assert settings.selection_rule(cfg, short_filter) == {"mode": "match_supervised", "value": None, "strict": False}
    cfg["students"]["architectures"] = ["2-1"]
    assert [r.filter for r in plan_rows.config_matrix_rows(cfg)][1:] == ["none", "supervised", short_filter]
    cfg["selection"]["per_filter"] = {short_filter: {"mode": "fraction", "value": 0.5}}
    validate(cfg)  # per_filter accepts the registered name

    labels = pd.DataFrame({"id": ["a", "b", "c", "d"], "pseudo_label": ["one two three", "", "x", "y z"],
                           "n_tokens": [3, 0, 1, 2], "mean_logprob": [-0.1, 0.0, -0.2, -0.3]})
    score = teacher_score(labels, short_filter)
    assert score["score"].tolist() == [3, float("-inf"), 1, 2]  # the empty one gets the worst
    labels_path, manifest_path = tmp_path / "labels.parquet", tmp_path / "m.parquet"
    score_path = tmp_path / f"{short_filter}.parquet"
    labels.to_parquet(labels_path)
    from udistil.scores import write_score

    write_score(score, short_filter, score_path)
    pd.DataFrame({"id": labels["id"], "audio": "a.wav", "duration_s": 1.0, "text": None, "corpus": "pool",
                  "split": "train"}).to_parquet(manifest_path)
    run_select(labels=str(labels_path), manifest=str(manifest_path), score_paths=[str(score_path)],
               rule=settings.selection_rule(cfg, short_filter), filter_name=short_filter, norm_kind="basic",
               out_subset=str(tmp_path / "sub.parquet"), out_stats=str(tmp_path / "sub.json"))
    assert sorted(pd.read_parquet(tmp_path / "sub.parquet")["id"]) == ["a", "d"]  # the longer half


def test_a_filter_that_needs_labels_is_refused_on_an_unlabelled_pool(tmp_path):
    cfg = filled_config()
    cfg["corpora"]["pool"] = {"type": "local", "splits": {"train": str(tmp_path)}}
    with pytest.raises(ConfigError, match="'supervised' needs ground truth"):
        validate(cfg)


def test_matrix_rows_and_paper_rows_read_the_groups():
    rows = plan_rows.matrix_rows("t", [], ["6-3"], ["p"], ["proxy", "combined", "none", "supervised"])
    assert [(r.filter, r.group) for r in rows[1:]] == [("none", "no-filter"), ("supervised", "supervised"),
                                                         ("proxy", "label-free"), ("combined", "label-free")]
    assert filters.paper_row("no-filter", "32-16", "", "none") == "NoFilter DW-32-16"
    assert filters.paper_row("supervised", "16-16", "++", "supervised") == "DW-16-16++"
    assert filters.paper_row("label-free", "16-16", "", "sonar") == "UDW-16-16 sonar"
    assert [grid.filter_of(m) for m in ("student-16-16-masc100k-sonar", "student-6-5-pool-nnll-s3", "teacher")] == \
        ["sonar", "nnll", ""]  # the filter from the model's name, never from a table's display name (sonar*)


def test_run_summary_names_the_outputs_and_each_claims_verdict(tmp_path):
    items = [{"claim": "the best label-free filter beats no filtering", "scope": "students 2-1, pool pool",
              "verdict": "holds", "boundary": 0.0, "family": 2, "comparisons": 2, "resamples": 1600,
              "measured": "proxy 30.00 vs none 35.00: difference -5.00. Detectable with 80% power: 3.216 points or "
                          "more from the boundary"},
             {"claim": "the best student comes within 1 WER point of the teacher, or beats it",
              "scope": "students 2-1, pool pool", "verdict": "not resolved by this run", "boundary": 1.0,
              "measured": "x", "family": 2, "comparisons": 2, "resamples": 1600}]
    md = claims_markdown(items, 0.95)
    assert claim_verdicts(md) == [(i["verdict"], i["claim"], i["scope"]) for i in items]
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "paper_claims.md").write_text(md)
    (tmp_path / "tables" / "result_matrix.md").write_text("|")
    text = run_summary(tmp_path)
    assert f"result matrix: {tmp_path}/tables/result_matrix.md" in text and "report:" not in text
    assert "[not resolved by this run] the best student comes within 1 WER point" in text
    assert "[holds] the best label-free filter beats no filtering (students 2-1, pool pool; detectable at 80% power: " \
        "3.2 points)" in text
    assert len(text.splitlines()) == 1 + 2 + 2


def test_rules_spell_no_result_path():
    """Every path of a run comes from udistil.plan.layout: the rules name jobs (logs, benchmarks) and ask the layout
    for files; the only path literals left are the workflow's own files (scripts, envs, captions)."""
    import re

    literal = re.compile(r'"([^"\n]*)"')
    for smk in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        for n, line in enumerate(smk.read_text().splitlines(), 1):
            code = line.split("#")[0]
            assert not re.search(r"\bres\(", code) and "results/" not in code, f"{smk.name}:{n}: {line}"
            for text in literal.findall(code):
                shipped = (smk.parent / text).exists()  # the workflow's own files: scripts, envs, captions
                if re.fullmatch(r"[\w{}.-]+(/[\w{}.-]+)+", text) and not shipped:  # a path, not prose
                    assert not re.search(r"\.\w+$", text), f"{smk.name}:{n}: a path spelled in a rule: {text!r}"


def test_a_run_says_what_it_cannot_compute(tmp_path):
    """An unlabelled pool: no supervised baseline, no filter AUCs; the summary says so in a line each."""
    own = filled("configs/own-audio.yaml")
    lines = targets.not_computed(own)
    assert lines == ["no supervised baseline, and no claim that compares with it: pools ['my_pool'] have no "
                     "transcripts",
                     "no filter AUCs (how well each score finds bad pseudo-labels): no pool has transcripts"]
    lay = layout.Layout(layout.run_name(own))
    assert lay.report() in targets.final_outputs(own, lay)  # the report exists, and says so
    assert targets.not_computed(filled("config.yaml")) == []  # the demo computes everything
    nothing = filled_config()  # minimal: no students
    assert targets.not_computed(nothing) == [
        "no filter AUCs (how well each score finds bad pseudo-labels): no filter reads a label-free score",
        "no students, so no comparisons between filters and no claims: `students.architectures` is empty"]
    summary = run_summary(tmp_path, lines)
    assert summary.splitlines()[1:] == [f"  not computed: {line}" for line in lines]
