import copy
from pathlib import Path

import pytest
import yaml

from udistil.config.validate import ConfigError, validate

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "config.yaml", *sorted((ROOT / "configs").glob("*.yaml")),
           *sorted((ROOT / "benchmarks").glob("*.yaml"))]  # the measurements' configs too


@pytest.fixture
def default():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    validate(yaml.safe_load(path.read_text()))


def test_unknown_top_level_key_is_named(default):
    default["bogus_key"] = 1
    with pytest.raises(ConfigError, match="bogus_key"):
        validate(default)


def test_wrong_type_names_nested_key(default):
    default["corpora"]["clean"]["splits"]["test"] = "twenty"
    with pytest.raises(ConfigError, match=r"corpora\.clean\.splits\.test"):
        validate(default)


def test_unknown_condition_names_key(default):
    default["corpora"]["noisy"]["conditions"].append("thunder@3")
    with pytest.raises(ConfigError, match=r"corpora\.noisy\.conditions\.\d+.*thunder"):
        validate(default)


def test_unknown_model_reference(default):
    default["teacher"] = "whisper-huge"
    with pytest.raises(ConfigError, match=r"'teacher'.*whisper-huge"):
        validate(default)


def test_unknown_packaged_asset(default):
    default["models"]["whisper-base"] = {"packaged": "whisper-small"}
    with pytest.raises(ConfigError, match=r"models\.whisper-base"):
        validate(default)


@pytest.mark.parametrize("key", ["revision", "kind"])
def test_a_model_key_the_workflow_would_not_read_is_refused(default, key):
    """`revision` and `kind` were once accepted and never read: a pinned revision would have been lost silently."""
    default["models"]["whisper-base"][key] = "whisper"
    with pytest.raises(ConfigError, match=rf"models\.whisper-base.*{key}|{key}.*models\.whisper-base"):
        validate(default)


def test_pool_needs_train_split(default):
    cfg = copy.deepcopy(default)
    cfg["pools"] = ["clean"]
    with pytest.raises(ConfigError, match=r"corpora\.clean\.splits.*train"):
        validate(cfg)


def test_eval_split_must_exist(default):
    default["evaluation"]["splits"] = ["test", "dev"]
    with pytest.raises(ConfigError, match=r"no split 'dev'"):
        validate(default)


def test_early_stopping_on_a_reported_split_names_the_keys(default):
    default["students"]["validation"] = {"set": "clean", "split": "validation", "patience": 2}
    with pytest.raises(ConfigError, match=r"'students.validation.set' and 'students.validation.split'.*"
                                          r"clean/validation.*'evaluation.sets' and 'evaluation.splits'"):
        validate(default)
    default["evaluation"]["splits"] = ["test"]  # validation no longer reported: allowed
    assert validate(default)["students"]["validation"]["split"] == "validation"
    default["evaluation"]["splits"] = ["test", "validation"]
    default["evaluation"]["sets"] = default["evaluation"]["benchmark"] = ["noisy", "unseen"]  # clean not reported
    assert validate(default)["students"]["validation"]["set"] == "clean"


MINIMAL = yaml.safe_load((ROOT / "configs" / "minimal.yaml").read_text())


def _optional_without_default(schema: dict, path: str = "") -> list[str]:
    """Optional properties (not `required`) of the config's sections that carry no `default:`."""
    missing = []
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        if name not in required and "default" not in sub:
            missing.append(key)
        missing += _optional_without_default(sub, key)
    return missing


def test_every_optional_section_key_has_a_schema_default():
    schema = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
    # absent on purpose: a score's section exists only when a filter uses it, `combined` only for its filter
    allowed = {"scores.proxy", "scores.nnll", "scores.sonar", "scores.sonar.model", "scores.sonar.speech_encoder",
               "scores.sonar.text_lang", "scores.pesq", "selection.combined"}
    assert set(_optional_without_default(schema)) <= allowed


def test_minimal_config_is_filled_from_the_schema_not_the_demo(default):
    cfg = validate(copy.deepcopy(MINIMAL))
    schema = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())["properties"]
    assert cfg["efficiency"]["clips"] == schema["efficiency"]["properties"]["clips"]["default"] != \
        default["efficiency"]["clips"]
    assert cfg["decoding"]["max_new_tokens"] == 128 != default["decoding"]["max_new_tokens"]
    assert cfg["students"]["training"]["warmup_steps"] == 50 and cfg["students"]["architectures"] == []
    assert cfg["scores"] == {} and cfg["selection"]["supervised_threshold"] == 80
    assert cfg["seed"] == 0 and cfg["language"] is None and cfg["evaluation"]["benchmark"] is None


def test_given_values_are_kept_and_nested_defaults_filled():
    cfg = copy.deepcopy(MINIMAL)
    cfg["students"] = {"training": {"max_steps": 7}}
    cfg["scores"] = {"pesq": {"rate": 150}}
    cfg["filters"] = ["none", "supervised", "pesq"]
    out = validate(cfg)
    assert out["students"]["training"]["max_steps"] == 7 and out["students"]["training"]["batch_size"] == 32
    assert out["scores"]["pesq"] == {"rate": 150, "voice": "en-us", "mode": "wb", "align": "stretch"}


@pytest.mark.parametrize("score", ["proxy", "nnll", "sonar", "pesq"])
def test_filter_without_its_score_section_names_the_key(score):
    cfg = copy.deepcopy(MINIMAL)
    cfg["filters"] = ["none", score]
    with pytest.raises(ConfigError, match=rf"config key 'scores\.{score}': missing; filter '{score}'"):
        validate(cfg)


def test_teacher_statistics_need_no_section():
    cfg = copy.deepcopy(MINIMAL)
    cfg["filters"] = ["none", "supervised", "conf", "entropy"]
    assert validate(cfg)["scores"] == {}


def test_sonar_backend_names_its_required_keys():
    cfg = copy.deepcopy(MINIMAL)
    cfg["scores"] = {"sonar": {"backend": "sonar"}}
    with pytest.raises(ConfigError, match=r"scores\.sonar.*speech_encoder"):
        validate(cfg)


def test_print_config_shows_the_filled_config(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "minimal.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    out = subprocess.run([sys.executable, "-m", "udistil.config.validate", str(path)], capture_output=True, text=True,
                         check=True).stdout
    printed = yaml.safe_load(out)
    assert printed == validate(copy.deepcopy(MINIMAL)) and printed["decoding"]["batch_size"] == 16


def test_packaged_corpus_is_checked_and_labelled():
    from udistil.plan.grid import has_text

    cfg = copy.deepcopy(MINIMAL)
    cfg["corpora"]["real"] = {"type": "packaged", "datasets": ["librivox-austen", "timit"],
                              "splits": {"test": 0.6, "validation": 0.4}}
    with pytest.raises(ConfigError, match=r"corpora\.real\.datasets\.1.*timit"):
        validate(cfg)
    cfg["corpora"]["real"]["datasets"] = ["librivox-austen"]
    assert has_text(validate(cfg)["corpora"]["real"])


def test_filters_per_pool_narrow_a_pools_students(default):
    from udistil.plan.grid import pool_filters, student_grid

    cfg = copy.deepcopy(default)
    cfg["pools"] = [*cfg["pools"], "clean"]
    cfg["corpora"]["clean"]["splits"]["train"] = 4
    cfg["filters_per_pool"] = {"clean": ["proxy", "supervised"]}
    filled = validate(cfg)
    assert pool_filters(filled, "clean") == [f for f in filled["filters"] if f in ("supervised", "proxy")]
    assert pool_filters(filled, default["pools"][0]) == filled["filters"]
    archs = filled["students"]["architectures"]
    assert len(student_grid(filled)) == len(archs) * (len(filled["filters"]) + 2)


@pytest.mark.parametrize(("per_pool", "message"), [
    ({"nowhere": ["none"]}, r"filters_per_pool\.nowhere': 'nowhere' is not a pool"),
    ({"POOL": ["pesq", "combined"]}, r"filters_per_pool\.POOL': filters \['combined'\] are not in 'filters'"),
    ({"POOL": ["bogus"]}, r"filters_per_pool\.POOL\.0"),
])
def test_filters_per_pool_errors_name_the_key(default, per_pool, message):
    pool = default["pools"][0]
    default["filters_per_pool"] = {(pool if k == "POOL" else k): v for k, v in per_pool.items()}
    default["filters"] = [f for f in default["filters"] if f != "combined"]
    with pytest.raises(ConfigError, match=message.replace("POOL", pool)):
        validate(default)


def test_paper_config_trains_the_papers_students():
    from udistil.config.validate import filled
    from udistil.plan.grid import student_grid

    cfg = filled(ROOT / "configs" / "paper.yaml")
    grid = student_grid(cfg)
    assert sum(p == "masc100k" for _, p, _, _ in grid) == 16 and sum(p == "masc500k" for _, p, _, _ in grid) == 6
    assert {f for _, p, f, _ in grid if p == "masc500k"} == {"supervised", "proxy", "sonar"}
    assert {s for *_, s in grid} == {cfg["seed"]}  # students.seeds left at its default: one seed
    train = cfg["students"]["training"]
    assert (train["epochs"], train["max_steps"], train["batch_size"], train["grad_accum"]) == (10, None, 16, 1)
    assert (train["global_batch_size"], train["num_processes"], train["freeze_encoder"]) == (128, 8, False)
    assert cfg["pseudo_label"]["return_timestamps"] is True
    sel = cfg["selection"]
    supervised = (sel["supervised_threshold"], sel["supervised_comparison"], sel["supervised_normalizer"])
    assert supervised == (80, "<", "basic")


def test_paper_config_values_name_their_source():
    """Every value line of the sections this config states carries its source in a comment."""
    tags = ("[authors' command]", "[authors' README]", "[paper]", "[fork default]", "NOT STATED", "[pipeline]")
    text = (ROOT / "configs" / "paper.yaml").read_text()
    own = text.split("\nmodels:")[0] + "\n".join(
        text.split(f"\n{section}:")[1].split("\n\n")[0] for section in ("decoding", "pseudo_label", "selection"))
    own += text.split("\nstudents:")[1].split("\nefficiency:")[0]
    lines = [ln for ln in own.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    values = [ln for ln in lines if not ln.split("#")[0].rstrip().endswith(":")]  # not a section's own line
    untagged = [ln for ln in values if not any(t in ln for t in tags)]
    assert untagged == []


def test_evaluation_categories_name_their_key():
    from tests.helpers import filled_config

    with pytest.raises(ConfigError, match=r"'evaluation.categories.nowhere': not an evaluation set"):
        filled_config(evaluation={"sets": ["clean"], "splits": ["test"], "categories": {"nowhere": "voice"}})
    corpora = filled_config()["corpora"]
    hf = {"type": "hf", "path": "x/y", "splits": {"test": "test"}}
    with pytest.raises(ConfigError, match=r"'evaluation.categories.sada': column 'SpeakerDialect' is not in "
                                          r"'corpora.sada.meta_columns'"):
        filled_config(corpora={**corpora, "sada": hf},
                      evaluation={"sets": ["sada"], "splits": ["test"], "categories": {"sada": "SpeakerDialect"}})
    ok = filled_config(corpora={**corpora, "sada": {**hf, "meta_columns": ["SpeakerDialect"]}},
                       evaluation={"sets": ["sada"], "splits": ["test"], "categories": {"sada": "SpeakerDialect"}})
    assert ok["evaluation"]["decoding"]["long_clips"] == "drop"
    with pytest.raises(ConfigError, match=r"'evaluation.decoding.long_clips'"):
        filled_config(evaluation={"sets": ["sada"], "splits": ["test"], "decoding": {"long_clips": "cut"}})


@pytest.mark.parametrize(("seeds", "message"), [([], r"students\.seeds"), ([3, 3], r"students\.seeds"),
                                                (["a"], r"students\.seeds\.0")])
def test_training_seeds_are_a_list_of_distinct_integers(default, seeds, message):
    default.setdefault("students", {})["seeds"] = seeds
    with pytest.raises(ConfigError, match=message):
        validate(default)


def test_evidence_config_trains_three_seeds_per_filter():
    from udistil.config.validate import filled
    from udistil.plan.grid import student_grid, training_seeds

    cfg = filled(ROOT / "configs" / "evidence.yaml")
    assert training_seeds(cfg) == [1, 2, 3]
    assert len(student_grid(cfg)) == 3 * len({g[:3] for g in student_grid(cfg)})


def test_match_supervised_needs_a_pool_with_text_and_the_supervised_filter(tmp_path):
    """A label-free filter that keeps as many clips as the supervised one is a config error, naming its key, on a
    pool without transcripts or without the supervised filter; a rule that needs no labels is valid."""
    from udistil.config.validate import ConfigError, validate

    def minimal(**changes):
        return {**yaml.safe_load((ROOT / "configs" / "minimal.yaml").read_text()), **changes}

    cfg = minimal(filters=["none", "conf", "entropy"])
    cfg["corpora"]["pool"] = {"type": "local", "splits": {"train": str(tmp_path)}}  # a folder: no transcripts
    with pytest.raises(ConfigError) as err:
        validate(copy.deepcopy(cfg))
    assert str(err.value).count("match_supervised") == 1  # one error for the key both filters read
    assert "config key 'selection.default': mode match_supervised" in str(err.value)
    assert "pool 'pool' has no transcripts" in str(err.value) and "{mode: fraction, value: 0.5}" in str(err.value)
    cfg["selection"] = {"default": {"mode": "fraction", "value": 0.5},
                        "per_filter": {"entropy": {"mode": "match_supervised"}}}
    with pytest.raises(ConfigError, match="config key 'selection.per_filter.entropy'"):
        validate(copy.deepcopy(cfg))
    cfg["selection"]["per_filter"] = {}
    validate(copy.deepcopy(cfg))

    with pytest.raises(ConfigError, match="pool 'pool' trains no 'supervised' filter"):  # ground truth, no baseline
        validate(minimal(filters=["none", "conf"]))
    validate(minimal(filters=["none", "supervised", "conf"]))


def test_evaluation_resample_names_an_evaluation_set_and_a_mode():
    from tests.helpers import filled_config

    ok = filled_config(evaluation={"sets": ["clean"], "splits": ["test"], "resample": {"clean": "within_groups"}})
    assert ok["evaluation"]["resample"] == {"clean": "within_groups"}
    assert filled_config()["evaluation"]["resample"] == {}  # every set: groups
    with pytest.raises(ConfigError, match=r"'evaluation.resample.noisy': not an evaluation set"):
        filled_config(evaluation={"sets": ["clean"], "splits": ["test"], "resample": {"noisy": "utterances"}})
    with pytest.raises(ConfigError, match=r"evaluation.resample.clean"):
        filled_config(evaluation={"sets": ["clean"], "splits": ["test"], "resample": {"clean": "voices"}})
