"""The file lists rules and `rule all` ask for: each a plain function of the filled config and the run's
layout."""

from __future__ import annotations

from typing import Any

from udistil.corpora import POOL_SPLIT
from udistil.plan.grid import (
    category_sets,
    eval_models,
    eval_pairs,
    filter_analysis,
    label_free_used,
    labelled_pools,
    materialised_models,
    pool_filters,
    pool_scores,
    student_names,
    synthetic_pools,
)
from udistil.plan.layout import Layout
from udistil.plan.rows import config_matrix_rows

Config = dict[str, Any]  # a filled (validated) config


def validation_input(config: Config, lay: Layout) -> dict[str, str]:
    """The validation manifest of the distill rule (none without validation)."""
    val = config["students"]["validation"]
    return {} if val["set"] is None else {"validation": lay.manifest(val["set"], val["split"])}


def subset_stats_files(config: Config, lay: Layout) -> list[str]:
    return [lay.subset(p, f, "json") for p in config["pools"] for f in pool_filters(config, p)]


def dataset_folders(config: Config, lay: Layout) -> list[str]:
    """Each pool's pseudo-labelled dataset with its scores, and its filters' subsets, as `save_to_disk` folders."""
    return [d for p in config["pools"] for d in [lay.dataset(p)] + [lay.dataset(p, f) for f in pool_filters(config, p)]]


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


def pool_manifests(config: Config, lay: Layout) -> list[str]:
    return [lay.manifest(p, POOL_SPLIT) for p in config["pools"]]


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
    report = [lay.report()] if students else []  # an unlabelled run has one too: it says what it lacks
    return (
        [lay.config()]
        + [lay.model_dir(m) for m in materialised_models(config)]
        + pool_manifests(config, lay)
        + eval_manifests(config, lay)
        + [lay.pseudo_labels(p) for p in config["pools"]]
        + eval_files(config, lay, "json")
        + score_files(config, lay)
        + subset_stats_files(config, lay)
        + dataset_folders(config, lay)
        + ([lay.table("filter_auc.csv")] if filter_analysis(config) else [])
        + [lay.student(s, "run.json") for s in students]
        + [lay.table(n) for n in ("result_matrix.csv", "result_matrix_seeds.csv", "seed_spread.csv",
                                  "utterance_errors.parquet")]
        + category_outputs(config, lay)
        + [lay.release(s) for s in students]
        + report
    )


def not_computed(config: Config) -> list[str]:
    """What this run cannot compute and why, a line each (the run's closing summary and its report say them)."""
    labelled = labelled_pools(config)
    unlabelled = [p for p in config["pools"] if p not in labelled]
    lines = []
    if not any("supervised" in pool_filters(config, p) for p in config["pools"]):
        why = f"pools {unlabelled} have no transcripts" if not labelled else "'supervised' is not in `filters`"
        lines.append(f"no supervised baseline, and no claim that compares with it: {why}")
    if not filter_analysis(config):
        why = "no pool has transcripts" if not labelled else "no filter reads a label-free score"
        lines.append(f"no filter AUCs (how well each score finds bad pseudo-labels): {why}")
    if not student_names(config):
        lines.append("no students, so no comparisons between filters and no claims: `students.architectures` is "
                     "empty")
    elif not any(r.group == "label-free" for r in config_matrix_rows(config)):
        lines.append("no label-free students, so no claim about label-free filtering: `filters` has none")
    return lines
