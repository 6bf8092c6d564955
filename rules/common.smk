# Helpers and config validation only; no rules here.
import re
import sys
from pathlib import Path

from udistil.config import POOL_SPLIT, has_text, pool_filters, student_grid, student_name, validate
from udistil.evaluate import evaluation_decoding
from udistil.manifest import length_limit
from udistil.logs import set_offline
from udistil.models import is_materialised
from udistil.models import location as model_location
from udistil.scores import LABEL_FREE, TEACHER_STATS

validate(config)  # fills every schema default: rules below read the filled config, never a default of their own
set_offline(config["offline"])

MODELS = config["models"]
PAPER_TABLE1 = str(Path(workflow.basedir) / "paper" / "table1.csv")  # shipped with the workflow
PAPER_TABLE3 = str(Path(workflow.basedir) / "paper" / "table3.csv")
CORPORA = config["corpora"]
EVAL = config["evaluation"]
BENCHMARK = EVAL["benchmark"] or EVAL["sets"]  # null: every evaluation set
CATEGORY_SETS = list(EVAL["categories"])  # sets with WER per category; Table 3 is the first's
TEACHER = config["teacher"]
N_SHARDS = config["pseudo_label"]["shards"]
GPU = 1 if config["device"] == "cuda" else 0
DECODING = {**config["decoding"], "language": config["language"], "task": config["task"]}  # udistil DecodeOptions
EVAL_DECODING = evaluation_decoding(
    decoding=config["decoding"], evaluation=EVAL["decoding"], language=config["language"], task=config["task"]
)
SCORE_CFG = config["scores"]
FILTERS = config["filters"]
SELECTION = config["selection"]
COMBINED = SELECTION["combined"] if "combined" in SELECTION else {"scores": []}  # read by the 'combined' filter
LABELLED_POOLS = [p for p in config["pools"] if has_text(CORPORA[p])]
SYNTHETIC_POOLS = [p for p in config["pools"] if CORPORA[p]["type"] == "synthetic"]  # voice and condition known
LABEL_FREE_USED = [f for f in LABEL_FREE if f in FILTERS or f in COMBINED["scores"]]
FILTER_ANALYSIS = bool(LABELLED_POOLS and LABEL_FREE_USED)  # label-free scores judged against ground truth
STUDENTS = config["students"]
ARCHS = STUDENTS["architectures"]
SONAR_STAND_IN = "sonar" in SCORE_CFG and SCORE_CFG["sonar"]["backend"] == "text_embedding"
STAND_INS = {"sonar": "text-embedding stand-in"} if SONAR_STAND_IN else {}


def student_names():
    """`student-{enc}-{dec}-{pool}-{filter}` for the whole grid (each pool with its own filters)."""
    return [student_name(a, p, f) for a, p, f in student_grid(config)]


def subset_stats_files():
    """Every training subset's statistics: each pool with its own filters."""
    return [f"results/subsets/{p}/{f}.json" for p in config["pools"] for f in pool_filters(config, p)]


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    model=_alternatives(set(MODELS) | set(student_names())),
    arch=_alternatives(ARCHS or ["0-0"]),
    corpus=_alternatives(CORPORA),
    split=_alternatives({s for c in CORPORA.values() for s in c["splits"]}),
    pool=_alternatives(config["pools"]),
    shard=r"\d+",
    filter=_alternatives(FILTERS),


def training_config():
    """Settings of udistil.distill.TrainConfig from the config."""
    return {
        **STUDENTS["training"],
        "seed": config["seed"],
        "language": config["language"],
        "task": config["task"],
        "precision": config["precision"],
        "device": config["device"],
        "cache": config["encoder_cache"],
    }


def validation_settings():
    """udistil.distill.ValidationConfig from `students.validation`, or None when it names no set."""
    val = STUDENTS["validation"]
    if val["set"] is None:
        return None
    keep = ("every", "patience", "clips", "min_delta")
    return {**{k: val[k] for k in keep}, "normalizer": config["normalizer"], "decoding": DECODING}


def validation_input():
    """The validation manifest of the distill rule (none without validation)."""
    val = STUDENTS["validation"]
    return {} if val["set"] is None else {"validation": manifest(val["set"], val["split"])}


def model_dir(name):
    """Folder that the workflow builds for a packaged or random model."""
    return f"resources/models/{name}"


def model_input(name):
    """Snakemake input for a model: its folder when the workflow builds it, else nothing (hub, path)."""
    if name.startswith("student-"):
        return [f"results/students/{name}/model"]
    return [model_dir(name)] if is_materialised(MODELS[name]) else []


def location(name):
    """What the jobs pass to `from_pretrained` for a model name (the folder the workflow builds, hub id, path)."""
    return model_location(MODELS[name], model_dir(name))


def model_param(name_of):
    """Params function: a model's location, taken from the job's `model` input when the workflow builds it."""

    def param(wc, input):
        name = name_of(wc)
        if name is None:  # the rule runs without a model of the config's (e.g. SONAR's own encoders)
            return None
        if name in MODELS and not is_materialised(MODELS[name]):
            return model_location(MODELS[name])
        folder = input.model
        return str(folder if isinstance(folder, str) else folder[0])

    return param


def materialised_models():
    return [m for m in MODELS if is_materialised(MODELS[m])]


def manifest(corpus, split):
    return f"results/manifests/{corpus}/{split}.parquet"


def manifest_length_limit(corpus, split):
    """The longest clip a manifest keeps (None: no limit): training pools keep at most 30 s."""
    pool = corpus in config["pools"] and split == POOL_SPLIT
    return length_limit(pool=pool, long_clips=EVAL["decoding"]["long_clips"])


def pool_manifests():
    return [manifest(p, POOL_SPLIT) for p in config["pools"]]


def eval_pairs():
    """(set, split) of every evaluation, in the order of eval_manifests() and eval_outputs()."""
    return [(c, s) for c in EVAL["sets"] for s in EVAL["splits"]]


def eval_manifests():
    return [manifest(c, s) for c, s in eval_pairs()]


def eval_outputs(ext):
    """An `evaluate` job's outputs of one kind (parquet tables or json metrics), one per set and split."""
    return [f"results/eval/{{model}}/{c}/{s}.{ext}" for c, s in eval_pairs()]


def eval_tables():
    """Per-utterance tables of every evaluation (the bootstrap resamples their utterances)."""
    return [f"results/eval/{m}/{c}/{s}.parquet" for m in eval_models() for c, s in eval_pairs()]


def eval_models():
    return [TEACHER] + [m for m in EVAL["zero_shot"] if m != TEACHER] + student_names()


def eval_metrics():
    return [f"results/eval/{m}/{c}/{s}.json" for m in eval_models() for c, s in eval_pairs()]


def category_metrics():
    """Metrics of every evaluation of a set with categories (they carry its WER per category)."""
    return [f"results/eval/{m}/{c}/{s}.json" for m in eval_models() for c in CATEGORY_SETS for s in EVAL["splits"]]


def category_outputs():
    """WER per category and Table 3 beside the paper's, when a set has categories."""
    return ["results/tables/wer_by_category.csv", "results/tables/paper_vs_run_table3.csv"] if CATEGORY_SETS else []


def filter_scores(name):
    """The score tables a filter reads."""
    if name == "none":
        return []
    if name == "supervised":
        return ["wer"]
    if name == "combined":
        return list(COMBINED["scores"])
    return [name]


def selection_rule(name):
    """Mode and value of a filter's selection (see udistil.selection)."""
    if name == "none":
        return {"mode": "all", "value": None}
    if name == "supervised":
        return {"mode": "threshold", "value": SELECTION["supervised_threshold"],
                "strict": SELECTION["supervised_comparison"] == "<"}
    if name == "combined":
        return {"mode": COMBINED["mode"], "value": COMBINED["value"], "strict": False}
    own = SELECTION["per_filter"]
    chosen = own[name] if name in own else SELECTION["default"]
    return {"mode": chosen["mode"], "value": chosen["value"], "strict": False}


def supervised_normalizer():
    """The normaliser of the supervised WER (the `wer` score): its own, else the config's."""
    return SELECTION["supervised_normalizer"] or config["normalizer"]


def select_inputs(wc):
    inputs = {
        "labels": f"results/pseudo_labels/{wc.pool}.parquet",
        "manifest": manifest(wc.pool, POOL_SPLIT),
        "scores": [f"results/scores/{wc.pool}/{s}.parquet" for s in filter_scores(wc.filter)],
    }
    if selection_rule(wc.filter)["mode"] == "match_supervised":
        inputs["supervised"] = f"results/subsets/{wc.pool}/supervised.json"
    return inputs


def layer_map(arch):
    """The configured teacher-layer map of an architecture; an empty map lets init_student choose."""
    maps = STUDENTS["layer_maps"]
    return maps[arch] if arch in maps else {}


def proxy_transcripts(pool):
    """The proxy model's transcripts of a pool (the proxy score and the text-embedding stand-in read them)."""
    return f"results/transcripts/{pool}/{SCORE_CFG['proxy']['model']}.parquet"


def sonar_inputs(wc):
    cfg = SCORE_CFG["sonar"]
    inputs = {"labels": f"results/pseudo_labels/{wc.pool}.parquet"}
    if cfg["backend"] == "text_embedding":
        inputs["transcripts"] = proxy_transcripts(wc.pool)
        inputs["model"] = model_input(cfg["model"])
    else:
        inputs["manifest"] = manifest(wc.pool, POOL_SPLIT)
    return inputs


def pool_scores(pool):
    """The score tables a pool's filters read."""
    return sorted({s for f in pool_filters(config, pool) for s in filter_scores(f)})


def score_files():
    return [f"results/scores/{p}/{s}.parquet" for p in config["pools"] for s in pool_scores(p)]


def analysed_scores():
    """The label-free score tables the filter analysis judges: each labelled pool's own."""
    return [f"results/scores/{p}/{s}.parquet" for p in LABELLED_POOLS for s in LABEL_FREE_USED
            if s in pool_scores(p)]


def matrix_rows_param():
    """Rows of the result matrix (udistil.tables.Row fields) for the configured grid."""
    from dataclasses import asdict

    from udistil.tables import matrix_rows

    rows = matrix_rows(TEACHER, EVAL["zero_shot"], ARCHS, config["pools"], FILTERS,
                       pool_filters={p: pool_filters(config, p) for p in config["pools"]})
    return [asdict(r) for r in rows]


def efficiency_students():
    """One student per architecture (the first pool's, first filter's) for the efficiency table."""
    pool = config["pools"][0]
    return [student_name(a, pool, pool_filters(config, pool)[0]) for a in ARCHS]


def reported_outputs():
    """Every output marked report(): the HTML report is built once they all exist."""
    analysis = ["results/tables/filter_auc.csv", "results/plots/filter_roc.png"] if FILTER_ANALYSIS else []
    curves = ["results/tables/learning_curves.csv", "results/plots/learning_curves.png"]
    conditions = [f"results/tables/pool_conditions_{p}.csv" for p in SYNTHETIC_POOLS]
    validated = STUDENTS["validation"]["set"] is not None and student_names()
    return [
        "results/tables/result_matrix.csv",
        "results/tables/comparisons.csv",
        "results/tables/efficiency.csv",
        "results/tables/paper_claims.md",
        "results/tables/paper_vs_run.csv",
        *analysis,
        *conditions,
        *category_outputs(),
        *(curves if validated else []),
        "results/plots/wer_by_filter.png",
        "results/plots/score_vs_wer.png",
        "results/plots/wer_vs_speed.png",
    ]


def final_outputs():
    return (
        ["results/config.yaml"]
        + [model_dir(m) for m in materialised_models()]
        + pool_manifests()
        + eval_manifests()
        + expand("results/pseudo_labels/{pool}.parquet", pool=config["pools"])
        + eval_metrics()
        + score_files()
        + subset_stats_files()
        + (["results/tables/filter_auc.csv"] if FILTER_ANALYSIS else [])
        + [f"results/students/{s}/run.json" for s in student_names()]
        + ["results/tables/result_matrix.csv"]
        + category_outputs()
        + [f"results/release/{s}" for s in student_names()]
        + (
            ["results/report.html"]
            if ARCHS and LABELLED_POOLS
            else []
        )
    )
REPORTED = reported_outputs()
