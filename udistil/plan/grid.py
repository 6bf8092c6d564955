"""What a run builds: the student grid and its names, the evaluated models, the rows of the result matrix, and
each pool's filters with the score tables they read. Plain functions of the filled config."""

from __future__ import annotations

import re
from typing import Any

from udistil.corpora.formats import split_has_text
from udistil.models.specs import is_materialised
from udistil.scores import label_free
from udistil.selection import filters

Config = dict[str, Any]  # a filled (validated) config

STUDENT_PREFIX = "student"
CELL = rf"^{STUDENT_PREFIX}-(?P<arch>[0-9]+-[0-9]+)-(?P<pool>[A-Za-z0-9][A-Za-z0-9_]*)-(?P<filter>[a-z][a-z0-9_]*)"
CELL_RE, STUDENT_RE = re.compile(CELL + "$"), re.compile(CELL + r"-s(?P<seed>[0-9]+)$")


# ---- student names: built and parsed here only --------------------------------------------------------------------

def cell_name(arch: str, pool: str, filter_name: str) -> str:
    """The name of a cell of the result matrix: the students of (arch, pool, filter) over every training seed."""
    return f"{STUDENT_PREFIX}-{arch}-{pool}-{filter_name}"


def student_name(arch: str, pool: str, filter_name: str, seed: int | str) -> str:
    """The name of the student distilled with architecture `arch` on `pool` filtered by `filter_name`, trained
    with training seed `seed` (Snakemake wildcards such as "{arch}" give the rules' pattern)."""
    return f"{cell_name(arch, pool, filter_name)}-s{seed}"


def parse_student_name(name: str) -> dict[str, str] | None:
    """`arch`, `pool`, `filter` and `seed` of a student's name (the inverse of student_name); None for other
    models."""
    m = STUDENT_RE.match(name)
    return m.groupdict() if m else None


def filter_of(model: str) -> str:
    """The filter of a student or a matrix cell (its own name, never a table's display name); "" for other
    models."""
    m = STUDENT_RE.match(model) or CELL_RE.match(model)
    return m["filter"] if m else ""


def is_student(name: str) -> bool:
    return parse_student_name(name) is not None


def cell_of(model: str) -> str:
    """The matrix row of an evaluated model: a student's cell, any other model itself."""
    student = parse_student_name(model)
    return cell_name(student["arch"], student["pool"], student["filter"]) if student else model


# ---- the student grid ----------------------------------------------------------------------------------------------

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


# ---- corpora and models --------------------------------------------------------------------------------------------

def has_text(corpus: dict[str, Any]) -> bool:
    """Whether a corpus carries ground-truth transcripts (needed by the supervised baseline and analysis); a local
    corpus's splits are looked at (`udistil.corpora.formats.split_has_text`)."""
    if corpus["type"] in ("synthetic", "packaged"):
        return True
    if corpus["type"] == "hf":
        return corpus["text_column"] is not None
    return all(split_has_text(corpus, path) for path in corpus["splits"].values())


def labelled_pools(config: Config) -> list[str]:
    return [p for p in config["pools"] if has_text(config["corpora"][p])]


def synthetic_pools(config: Config) -> list[str]:
    """Pools whose voice and condition are known (a table of the teacher's WER per condition)."""
    return [p for p in config["pools"] if config["corpora"][p]["type"] == "synthetic"]


def materialised_models(config: Config) -> list[str]:
    return [m for m, spec in config["models"].items() if is_materialised(spec)]


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


# ---- filters and their scores ---------------------------------------------------------------------------------------

def filter_scores(config: Config, name: str) -> list[str]:
    """The score tables a filter reads."""
    return filters.scores(name, config["selection"])


def pool_scores(config: Config, pool: str) -> list[str]:
    """The score tables a pool's filters read."""
    return sorted({s for f in pool_filters(config, pool) for s in filter_scores(config, f)})


def label_free_used(config: Config) -> list[str]:
    """The label-free scores that some filter of the run reads (the filter analysis judges them)."""
    used = {s for f in config["filters"] for s in filter_scores(config, f)}
    return [s for s in label_free() if s in used]


def filter_analysis(config: Config) -> bool:
    """Whether label-free scores are judged against ground truth (needs a labelled pool)."""
    return bool(labelled_pools(config) and label_free_used(config))


def stand_ins(config: Config) -> dict[str, str]:
    """Scores replaced by an offline stand-in (tables star them)."""
    sonar = config["scores"].get("sonar")
    return {"sonar": "text-embedding stand-in"} if sonar and sonar["backend"] == "text_embedding" else {}


def canonical(value: Any) -> Any:
    """A config value with its mappings' keys sorted, so that equal specs written in another key order are equal
    params to Snakemake (a model under the shared resources/ is not rebuilt for another config's key order)."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    return [canonical(v) for v in value] if isinstance(value, list) else value


def model_spec(config: Config, name: str) -> dict[str, Any]:
    return canonical(config["models"][name])
