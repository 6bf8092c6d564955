"""The settings each kind of job runs with, from the filled config: decoding, the GPU a job asks for, selection,
the longest clip a manifest keeps, and distillation's training and validation settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from udistil.corpora import POOL_SPLIT
from udistil.corpora.manifest import length_limit
from udistil.distill.settings import TrainConfig, ValidationConfig
from udistil.selection import filters

Config = dict[str, Any]  # a filled (validated) config


def decoding(config: Config) -> dict[str, Any]:
    """udistil DecodeOptions fields of pseudo-labelling and transcription."""
    return {**config["decoding"], "language": config["language"], "task": config["task"]}


def gpus(config: Config, cuda_available: Callable[[], bool] | None = None) -> int:
    """The GPUs a model job asks the scheduler for: 1 with `device: cuda`; with `auto`, 1 when the machine that
    plans the run has a GPU (`cuda_available`, default torch's answer, asked only then), so that Snakemake's `gpu`
    resource keeps jobs from piling onto the card; 0 otherwise. A cluster's login node usually has no GPU: a
    cluster config says `cuda` (docs/scaling.md)."""
    if config["device"] != "auto":
        return 1 if config["device"] == "cuda" else 0
    if cuda_available is None:
        import torch  # loaded by planning already (udistil.models.specs); asked only under `auto`

        cuda_available = torch.cuda.is_available
    return 1 if cuda_available() else 0


def sonar_environment(config: Config) -> str:
    """The conda environment (envs/<name>.yaml) of the sonar score's job: SONAR's own where its encoders run
    (`scores.sonar.backend: sonar`), else the main one (the text-embedding stand-in runs on transformers)."""
    sonar = config["scores"].get("sonar")
    return "sonar" if sonar and sonar["backend"] == "sonar" else "udistil"


def selection_rule(config: Config, name: str) -> dict[str, Any]:
    return filters.selection_rule(name, config["selection"])


def supervised_normalizer(config: Config) -> str:
    """The normaliser of the supervised WER (the `wer` score): its own, else the config's."""
    return config["selection"]["supervised_normalizer"] or config["normalizer"]


def manifest_length_limit(config: Config, corpus: str, split: str) -> float | None:
    """The longest clip a manifest keeps (None: no limit): training pools keep at most 30 s."""
    pool = corpus in config["pools"] and split == POOL_SPLIT
    return length_limit(pool=pool, long_clips=config["evaluation"]["decoding"]["long_clips"])


def manifest_split_long(config: Config, corpus: str, split: str) -> bool:
    """Whether a manifest cuts an untranscribed recording longer than its limit at pauses instead of rejecting it:
    a training pool's split, when its corpus says `long_recordings: split`."""
    pool = corpus in config["pools"] and split == POOL_SPLIT
    return pool and config["corpora"][corpus].get("long_recordings", "reject") == "split"


def training(config: Config, seed: int) -> dict[str, Any]:
    """The distill rule's `training` param: the student's TrainConfig (`TrainConfig.from_config`) as plain data."""
    return asdict(TrainConfig.from_config(config, seed))


def validation(config: Config) -> dict[str, Any] | None:
    """The distill rule's `validation` param: ValidationConfig from `students.validation` as plain data, or None
    when it names no set."""
    val = ValidationConfig.from_config(config, decoding(config))
    return None if val is None else asdict(val)


def hub_datasets(config: Config) -> dict[str, dict[str, str | None]]:
    """How model cards name each evaluation set's dataset (`model-index`): `type` the hub id of a set read from the
    hub (the Hub links it), else the corpus name; `config` the hub dataset's configuration."""
    out = {}
    for name in config["evaluation"]["sets"]:
        spec = config["corpora"][name]
        hub = spec["type"] == "hf" and not spec.get("from_disk")
        out[name] = {"type": spec["path"] if hub else name, "config": spec.get("name") if hub else None}
    return out
