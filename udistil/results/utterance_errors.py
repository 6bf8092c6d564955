"""A run's per-utterance error table: every evaluated run's word and character errors and reference lengths per
utterance, the data every interval, comparison and claim of the run is computed from, in one compact file
(`tables/utterance_errors.parquet`, written by the result_matrix job); and a bootstrap and a run's settings read
back from it (udistil.results.recompute and udistil.results.power use them).

Columns: `cell` (the matrix row: a student cell or another model), `model` (the evaluated run), `seed` (a
student's training seed, empty for other models), `set`, `split`, `id`, `group` (the utterance's speaker, voice or
recording; empty where the set names none), `errors` and `words` (word edit errors and reference words), and
`char_errors` and `chars` (the same in characters)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from udistil.common.fileio import write_parquet
from udistil.plan.grid import benchmark_sets, parse_student_name
from udistil.plan.rows import Row
from udistil.plan.layout import Layout
from udistil.results.intervals import GROUP, Bootstrap

COLUMNS = ["cell", "model", "seed", "set", "split", "id", GROUP, "errors", "words", "char_errors", "chars"]
NAME = "utterance_errors.parquet"
COUNTS = {"wer": ("errors", "words"), "cer": ("char_errors", "chars")}


def error_table(boot: Bootstrap, rows: list[Row], sets: list[str], splits: list[str]) -> pd.DataFrame:
    """One row per evaluated run (each cell's runs in matrix order), set, split and utterance, from the
    bootstrap's evaluation tables."""
    parts = []
    for row in rows:
        for run in row.runs or (row.model,):
            student = parse_student_name(run)
            for corpus in sets:
                for split in splits:
                    table = boot.tables[(run, corpus, split)]
                    errors, words = boot.counts(run, corpus, split, "wer")
                    char_errors, chars = boot.counts(run, corpus, split, "cer")
                    parts.append(pd.DataFrame({
                        "cell": row.model, "model": run, "seed": int(student["seed"]) if student else None,
                        "set": corpus, "split": split, "id": table["id"].astype(str).to_numpy(),
                        GROUP: table[GROUP].astype(str).to_numpy() if GROUP in table.columns else "",
                        "errors": errors, "words": words, "char_errors": char_errors, "chars": chars}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return out.astype({"seed": "Int64"})[COLUMNS]


def write_error_table(boot: Bootstrap, rows: list[Row], sets: list[str], splits: list[str], path: str) -> None:
    write_parquet(error_table(boot, rows, sets, splits), path)


def bootstrap_from_errors(table: pd.DataFrame, resamples: int, seed: int, modes: dict[str, str] | None = None
                          ) -> Bootstrap:
    """The run's bootstrap (same cells, draws and rates as from its evaluation tables) from its error table."""
    counts, ids, cells = {}, {}, {}
    for (model, corpus, split), g in table.groupby(["model", "set", "split"], sort=False):
        for metric, (errors, length) in COUNTS.items():
            counts[(model, corpus, split, metric)] = (g[errors].to_numpy(np.int64), g[length].to_numpy(np.int64))
        keep = ["id", GROUP] if (g[GROUP] != "").all() else ["id"]
        ids[(model, corpus, split)] = g[keep].reset_index(drop=True)
    for cell, g in table.groupby("cell", sort=False):
        runs = list(dict.fromkeys(g["model"]))
        if runs != [cell]:
            cells[cell] = runs
    return Bootstrap.from_counts(counts, ids, resamples, seed, cells, modes)


def run_path(root: str | Path, layout_path: str) -> Path:
    """A run's file under `root` (its results folder, wherever it lies) from the layout's path of it."""
    lay = Layout(Path(root).name)
    return Path(root) / Path(layout_path).relative_to(lay.root)


@dataclass(frozen=True)
class Run:
    """A finished run read back: its filled config, its error table and the settings of its intervals."""

    root: Path
    config: dict[str, Any]
    errors: pd.DataFrame

    @classmethod
    def read(cls, root: str | Path) -> Run:
        lay = Layout(Path(root).name)
        config = yaml.safe_load(run_path(root, lay.config()).read_text())
        return cls(Path(root), config, pd.read_parquet(run_path(root, lay.table(NAME))))

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def resamples(self) -> int:
        return int(self.config["uncertainty"]["resamples"])

    @property
    def confidence(self) -> float:
        return float(self.config["uncertainty"]["confidence"])

    @property
    def benchmark(self) -> list[str]:
        return benchmark_sets(self.config)

    @property
    def splits(self) -> list[str]:
        return list(self.config["evaluation"]["splits"])

    @property
    def modes(self) -> dict[str, str]:
        return dict(self.config["evaluation"].get("resample") or {})

    def table(self, name: str) -> Path:
        return run_path(self.root, Layout(self.root.name).table(name))

    def bootstrap(self, resamples: int | None = None) -> Bootstrap:
        return bootstrap_from_errors(self.errors, resamples or self.resamples, self.seed, self.modes)
