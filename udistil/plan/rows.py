"""The rows of the result matrix: the teacher, zero-shot models, then each student architecture and pool's cells
(a filter's students over its training seeds), in the paper's order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from udistil.plan.grid import Config, cell_name, pool_filters, student_name, training_seeds
from udistil.selection import filters


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
    """Cell name -> its evaluated students, for udistil.results.intervals.Bootstrap's `cells`."""
    return {r.model: list(r.runs) for r in rows if r.runs}


def config_matrix_rows(config: Config) -> list[Row]:
    """The result matrix's rows for the config's grid."""
    return matrix_rows(config["teacher"], config["evaluation"]["zero_shot"], config["students"]["architectures"],
                       config["pools"], config["filters"],
                       pool_filters={p: pool_filters(config, p) for p in config["pools"]},
                       seeds=tuple(training_seeds(config)))
