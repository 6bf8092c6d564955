"""What a run builds, as plain functions of the filled config: the run's folders and path layout, the student
grid, the evaluated models, each pool's filters with their scores and selection rules, the training and
validation settings, the evaluation pairs and the final target lists. `rules/*.smk` only turn these into rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from udistil import filters
from udistil.corpora import POOL_SPLIT
from udistil.manifest import length_limit
from udistil.models import is_materialised
from udistil.scores import LABEL_FREE

Config = dict[str, Any]  # a filled (validated) config

STUDENT_RE = re.compile(r"^student-(?P<arch>[0-9]+-[0-9]+)-(?P<pool>[A-Za-z0-9][A-Za-z0-9_]*)-(?P<filter>[a-z]+)"
                        r"-s(?P<seed>[0-9]+)$")
RUN_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


# ---- the run and its folders ---------------------------------------------------------------------------------

def run_name(config: Config, configfiles: list[str | Path] | None = None) -> str:
    """The config's `run`, else the stem of the (last) config file given (configs/evidence.yaml -> evidence)."""
    if config.get("run"):
        return config["run"]
    stem = Path(configfiles[-1]).stem if configfiles else ""
    if not RUN_RE.match(stem):
        raise ValueError(f"config key 'run': not set, and no config file name to take it from ({configfiles})")
    return stem


@dataclass(frozen=True)
class Layout:
    """Where a run's files live: results/<run>/... and logs/<run>/...; models under the shared resources/."""

    run: str

    @property
    def root(self) -> str:
        return f"results/{self.run}"

    def res(self, path: str) -> str:
        return f"{self.root}/{path}"

    def log(self, path: str) -> str:
        return f"logs/{self.run}/{path}"

    def bench(self, path: str) -> str:
        return self.res(f"benchmarks/{path}")

    def model_dir(self, name: str) -> str:
        """Folder the workflow builds for a packaged or random model (shared by every run)."""
        return f"resources/models/{name}"

    def manifest(self, corpus: str, split: str) -> str:
        return self.res(f"manifests/{corpus}/{split}.parquet")

    def pseudo_labels(self, pool: str) -> str:
        return self.res(f"pseudo_labels/{pool}.parquet")

    def score(self, pool: str, score: str) -> str:
        return self.res(f"scores/{pool}/{score}.parquet")

    def subset(self, pool: str, filter_name: str, ext: str = "parquet") -> str:
        return self.res(f"subsets/{pool}/{filter_name}.{ext}")

    def student(self, name: str, path: str = "") -> str:
        return self.res(f"students/{name}" + (f"/{path}" if path else ""))

    def evaluation(self, model: str, corpus: str, split: str, ext: str) -> str:
        return self.res(f"eval/{model}/{corpus}/{split}.{ext}")

    def table(self, name: str) -> str:
        return self.res(f"tables/{name}")

    def plot(self, name: str) -> str:
        return self.res(f"plots/{name}")


# ---- students ---------------------------------------------------------------------------------------------------

def student_name(arch: str, pool: str, filter_name: str, seed: int) -> str:
    """The name of the student distilled with architecture `arch` on `pool` filtered by `filter_name`, trained
    with training seed `seed`."""
    return f"{cell_name(arch, pool, filter_name)}-s{seed}"


def cell_name(arch: str, pool: str, filter_name: str) -> str:
    """The name of a cell of the result matrix: the students of (arch, pool, filter) over every training seed."""
    return f"student-{arch}-{pool}-{filter_name}"


def parse_student_name(name: str) -> dict[str, str] | None:
    """`arch`, `pool`, `filter` and `seed` of a student's name (the inverse of student_name); None for other
    models."""
    m = STUDENT_RE.match(name)
    return m.groupdict() if m else None


def cell_of(model: str) -> str:
    """The matrix row of an evaluated model: a student's cell, any other model itself."""
    student = parse_student_name(model)
    return cell_name(student["arch"], student["pool"], student["filter"]) if student else model


def pool_filters(config: Config, pool: str) -> list[str]:
    """The filters whose students `pool` trains: its `filters_per_pool` entry, else every filter in `filters`
    (listed in the order of `filters`)."""
    own = config["filters_per_pool"].get(pool)
    return list(config["filters"]) if own is None else [f for f in config["filters"] if f in own]


def training_seeds(config: Config) -> list[int]:
    """The training seeds of every (architecture, pool, filter): `students.seeds`, else the run's `seed`."""
    return list(config["students"]["seeds"] or [config["seed"]])


def student_grid(config: Config) -> list[tuple[str, str, str, int]]:
    """(architecture, pool, filter, training seed) of every student: each pool with its own filters."""
    return [(arch, pool, f, seed) for arch in config["students"]["architectures"] for pool in config["pools"]
            for f in pool_filters(config, pool) for seed in training_seeds(config)]


def student_names(config: Config) -> list[str]:
    return [student_name(*s) for s in student_grid(config)]


def efficiency_students(config: Config) -> list[str]:
    """One student per architecture (the first pool's, first filter's, first seed's) for the efficiency table."""
    pool = config["pools"][0]
    return [student_name(a, pool, pool_filters(config, pool)[0], training_seeds(config)[0])
            for a in config["students"]["architectures"]]


def layer_map(config: Config, arch: str) -> dict[str, list[int]]:
    """The configured teacher-layer map of an architecture; an empty map lets init_student choose."""
    return config["students"]["layer_maps"].get(arch, {})


@dataclass(frozen=True)
class Row:
    """A row of the result matrix."""

    model: str
    group: str
    arch: str = ""
    pool: str = ""
    filter: str = ""
    runs: tuple[str, ...] = ()  # a cell's evaluated students, one per training seed (empty: the model itself)


def matrix_rows(teacher: str, zero_shot: list[str], archs: list[str], pools: list[str], filter_names: list[str],
                pool_filters: dict[str, list[str]] | None = None, seeds: tuple[int, ...] = (0,)) -> list[Row]:
    """Rows in the paper's order: teacher, zero-shot models, then per student architecture and pool the
    no-filter and supervised baselines followed by each label-free filter (`pool_filters[pool]` where a pool
    trains only some of `filter_names`). A student row is a cell (`cell_name`) whose runs are its students of
    every training seed in `seeds`."""
    rows = [Row(teacher, filters.TEACHER)] + [Row(m, filters.ZERO_SHOT) for m in zero_shot if m != teacher]
    order = sorted(filter_names, key=lambda f: (filters.GROUP_ORDER.index(filters.group(f)), filter_names.index(f)))
    for arch in archs:
        for pool in pools:
            own = (pool_filters or {}).get(pool, filter_names)
            rows += [Row(cell_name(arch, pool, f), filters.group(f), arch, pool, f,
                         tuple(student_name(arch, pool, f, s) for s in seeds)) for f in order if f in own]
    return rows


def row_from_params(param: dict[str, Any]) -> Row:
    """A Row from its Snakemake params form (`vars(row)`, where the runs may have become a list)."""
    return Row(**{**param, "runs": tuple(param.get("runs", ()))})


def seed_rows(rows: list[Row]) -> list[Row]:
    """The rows with every cell replaced by one row per training seed (its evaluated students)."""
    return [Row(run, r.group, r.arch, r.pool, r.filter) for r in rows for run in (r.runs or [r.model])]


def row_cells(rows: list[Row]) -> dict[str, list[str]]:
    """Cell name -> its evaluated students, for udistil.intervals.Bootstrap's `cells`."""
    return {r.model: list(r.runs) for r in rows if r.runs}


def config_matrix_rows(config: Config) -> list[Row]:
    """The result matrix's rows for the config's grid."""
    return matrix_rows(config["teacher"], config["evaluation"]["zero_shot"], config["students"]["architectures"],
                       config["pools"], config["filters"],
                       pool_filters={p: pool_filters(config, p) for p in config["pools"]},
                       seeds=tuple(training_seeds(config)))


# ---- corpora, models, evaluation ----------------------------------------------------------------------------------

def has_text(corpus: dict[str, Any]) -> bool:
    """Whether a corpus carries ground-truth transcripts (needed by the supervised baseline and analysis)."""
    if corpus["type"] in ("synthetic", "packaged"):
        return True
    if corpus["type"] == "hf":
        return corpus["text_column"] is not None
    return corpus["text_column"] is not None and all(not Path(p).is_dir() for p in corpus["splits"].values())


def labelled_pools(config: Config) -> list[str]:
    return [p for p in config["pools"] if has_text(config["corpora"][p])]


def synthetic_pools(config: Config) -> list[str]:
    """Pools whose voice and condition are known (a table of the teacher's WER per condition)."""
    return [p for p in config["pools"] if config["corpora"][p]["type"] == "synthetic"]


def canonical(value: Any) -> Any:
    """A config value with its mappings' keys sorted, so that equal specs written in another key order are equal
    params to Snakemake (a model under the shared resources/ is not rebuilt for another config's key order)."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    return [canonical(v) for v in value] if isinstance(value, list) else value


def model_spec(config: Config, name: str) -> dict[str, Any]:
    return canonical(config["models"][name])


def materialised_models(config: Config) -> list[str]:
    return [m for m, spec in config["models"].items() if is_materialised(spec)]


def manifest_length_limit(config: Config, corpus: str, split: str) -> float | None:
    """The longest clip a manifest keeps (None: no limit): training pools keep at most 30 s."""
    pool = corpus in config["pools"] and split == POOL_SPLIT
    return length_limit(pool=pool, long_clips=config["evaluation"]["decoding"]["long_clips"])


def eval_models(config: Config) -> list[str]:
    teacher = config["teacher"]
    return [teacher] + [m for m in config["evaluation"]["zero_shot"] if m != teacher] + student_names(config)


def eval_pairs(config: Config) -> list[tuple[str, str]]:
    """(set, split) of every evaluation."""
    ev = config["evaluation"]
    return [(c, s) for c in ev["sets"] for s in ev["splits"]]


def benchmark_sets(config: Config) -> list[str]:
    """The sets the benchmark average covers (null: every evaluation set)."""
    return config["evaluation"]["benchmark"] or config["evaluation"]["sets"]


def category_sets(config: Config) -> list[str]:
    """Sets with WER per category; the paper's Table 3 is the first's."""
    return list(config["evaluation"]["categories"])


def decoding(config: Config) -> dict[str, Any]:
    """udistil DecodeOptions fields of pseudo-labelling and transcription."""
    return {**config["decoding"], "language": config["language"], "task": config["task"]}


def gpus(config: Config) -> int:
    return 1 if config["device"] == "cuda" else 0


# ---- filters and scores -------------------------------------------------------------------------------------------

def filter_scores(config: Config, name: str) -> list[str]:
    """The score tables a filter reads."""
    return filters.scores(name, config["selection"])


def selection_rule(config: Config, name: str) -> dict[str, Any]:
    return filters.selection_rule(name, config["selection"])


def supervised_normalizer(config: Config) -> str:
    """The normaliser of the supervised WER (the `wer` score): its own, else the config's."""
    return config["selection"]["supervised_normalizer"] or config["normalizer"]


def pool_scores(config: Config, pool: str) -> list[str]:
    """The score tables a pool's filters read."""
    return sorted({s for f in pool_filters(config, pool) for s in filter_scores(config, f)})


def label_free_used(config: Config) -> list[str]:
    """The label-free scores that some filter of the run reads (the filter analysis judges them)."""
    used = {s for f in config["filters"] for s in filter_scores(config, f)}
    return [s for s in LABEL_FREE if s in used]


def filter_analysis(config: Config) -> bool:
    """Whether label-free scores are judged against ground truth (needs a labelled pool)."""
    return bool(labelled_pools(config) and label_free_used(config))


def stand_ins(config: Config) -> dict[str, str]:
    """Scores replaced by an offline stand-in (tables star them)."""
    sonar = config["scores"].get("sonar")
    return {"sonar": "text-embedding stand-in"} if sonar and sonar["backend"] == "text_embedding" else {}


# ---- training ---------------------------------------------------------------------------------------------------

def training_config(config: Config, seed: int) -> dict[str, Any]:
    """The complete udistil.distill.TrainConfig mapping of a student trained with training seed `seed` (its
    batch order, initialisation and every sampled choice of training)."""
    return {**config["students"]["training"], "seed": seed, "language": config["language"],
            "task": config["task"], "precision": config["precision"], "device": config["device"],
            "cache": config["encoder_cache"], "deterministic": config["deterministic"]}


def validation_settings(config: Config) -> dict[str, Any] | None:
    """udistil.distill.ValidationConfig from `students.validation`, or None when it names no set."""
    val = config["students"]["validation"]
    if val["set"] is None:
        return None
    keep = ("every", "patience", "clips", "min_delta")
    return {**{k: val[k] for k in keep}, "normalizer": config["normalizer"], "decoding": decoding(config)}


def validation_input(config: Config, lay: Layout) -> dict[str, str]:
    """The validation manifest of the distill rule (none without validation)."""
    val = config["students"]["validation"]
    return {} if val["set"] is None else {"validation": lay.manifest(val["set"], val["split"])}


# ---- target lists -------------------------------------------------------------------------------------------------

def subset_stats_files(config: Config, lay: Layout) -> list[str]:
    return [lay.subset(p, f, "json") for p in config["pools"] for f in pool_filters(config, p)]


def score_files(config: Config, lay: Layout) -> list[str]:
    return [lay.score(p, s) for p in config["pools"] for s in pool_scores(config, p)]


def analysed_scores(config: Config, lay: Layout) -> list[str]:
    """The label-free score tables the filter analysis judges: each labelled pool's own."""
    return [lay.score(p, s) for p in labelled_pools(config) for s in label_free_used(config)
            if s in pool_scores(config, p)]


def eval_files(config: Config, lay: Layout, ext: str, sets: list[str] | None = None) -> list[str]:
    """Every evaluation's metrics (json) or per-utterance table (parquet), optionally of some sets only."""
    return [lay.evaluation(m, c, s, ext) for m in eval_models(config) for c, s in eval_pairs(config)
            if sets is None or c in sets]


def eval_manifests(config: Config, lay: Layout) -> list[str]:
    return [lay.manifest(c, s) for c, s in eval_pairs(config)]


def category_outputs(config: Config, lay: Layout) -> list[str]:
    """WER per category and Table 3 beside the paper's, when a set has categories."""
    names = ["wer_by_category.csv", "paper_vs_run_table3.csv"]
    return [lay.table(n) for n in names] if category_sets(config) else []


def reported_outputs(config: Config, lay: Layout) -> list[str]:
    """Every output marked report(): the HTML report is built once they all exist."""
    analysis = [lay.table("filter_auc.csv"), lay.plot("filter_roc.png")] if filter_analysis(config) else []
    curves = [lay.table("learning_curves.csv"), lay.plot("learning_curves.png")]
    validated = config["students"]["validation"]["set"] is not None and student_names(config)
    tables = ["result_matrix.csv", "result_matrix_seeds.csv", "seed_spread.csv", "comparisons.csv", "efficiency.csv",
              "paper_claims.md", "paper_vs_run.csv"]
    return [
        *map(lay.table, tables),
        *analysis,
        *(lay.table(f"pool_conditions_{p}.csv") for p in synthetic_pools(config)),
        *category_outputs(config, lay),
        *(curves if validated else []),
        *map(lay.plot, ["wer_by_filter.png", "score_vs_wer.png", "wer_vs_speed.png"]),
    ]


def final_outputs(config: Config, lay: Layout) -> list[str]:
    students = student_names(config)
    report = [lay.res("report.html")] if config["students"]["architectures"] and labelled_pools(config) else []
    return (
        [lay.res("config.yaml")]
        + [lay.model_dir(m) for m in materialised_models(config)]
        + [lay.manifest(p, POOL_SPLIT) for p in config["pools"]]
        + eval_manifests(config, lay)
        + [lay.pseudo_labels(p) for p in config["pools"]]
        + eval_files(config, lay, "json")
        + score_files(config, lay)
        + subset_stats_files(config, lay)
        + ([lay.table("filter_auc.csv")] if filter_analysis(config) else [])
        + [lay.student(s, "run.json") for s in students]
        + [lay.table(n) for n in ("result_matrix.csv", "result_matrix_seeds.csv", "seed_spread.csv")]
        + category_outputs(config, lay)
        + [lay.res(f"release/{s}") for s in students]
        + report
    )
