"""Distillation settings: the filled `students.training` section plus the run's seed, language, device and cache
(`TrainConfig`), and the `students.validation` section (`ValidationConfig`). Plain data: the launcher reads them
without importing the training code."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(kw_only=True)
class TrainConfig:
    """Every field is required: the values come from the config, whose schema holds the defaults."""

    learning_rate: float
    warmup_steps: int
    scheduler: str
    max_steps: int | None
    epochs: float | None
    batch_size: int  # examples per micro-batch per process
    grad_accum: int
    global_batch_size: int | None  # examples per optimiser step; None: batch_size x grad_accum x processes
    num_processes: int  # processes (one GPU each on a GPU machine) the distill rule launches
    dataloader_workers: int  # 0: audio read and featurised in the training process
    weight_decay: float
    max_grad_norm: float
    ce_weight: float
    kl_weight: float
    temperature: float
    max_label_length: int
    timestamp_probability: float
    condition_on_prev_probability: float
    freeze_encoder: bool | str  # auto: frozen when the student keeps the teacher's encoder
    gradient_checkpointing: bool
    save_steps: int
    keep_checkpoints: int
    checkpoints_after_training: str  # remove | keep: the checkpoints once the model is written
    seed: int
    language: str | None
    task: str
    precision: str
    device: str
    cache: dict[str, Any]  # the config's `encoder_cache` section
    deterministic: bool  # the config's top-level `deterministic`: deterministic algorithms, cuBLAS workspace

    @classmethod
    def from_config(cls, config: dict[str, Any], seed: int) -> TrainConfig:
        """The settings of a student trained with training seed `seed` (its batch order, initialisation and every
        sampled choice of training), from a filled config: `students.training` and the run-wide keys. The one
        place that merges them."""
        return cls(**config["students"]["training"], seed=seed, language=config["language"], task=config["task"],
                   precision=config["precision"], device=config["device"], cache=config["encoder_cache"],
                   deterministic=config["deterministic"])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Settings from a dict; unknown keys are an error naming them (missing ones: TypeError naming them)."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown distillation settings {sorted(unknown)}")
        return cls(**d)


@dataclass(kw_only=True)
class ValidationConfig:
    """The config's `students.validation` section (its `set`/`split` resolved to `manifest` by the rule)."""

    every: int  # optimiser steps between evaluations; the untrained cut is evaluated first
    patience: int  # evaluations without a lower WER before training stops (0: never stops early)
    clips: int  # the first clips of the split (0: all)
    normalizer: str
    decoding: dict[str, Any]  # a `decoding` section with `language` and `task`
    min_delta: float = 0.0  # WER points an evaluation must gain on the best so far to count as an improvement

    @classmethod
    def from_config(cls, config: dict[str, Any], decoding: dict[str, Any]) -> ValidationConfig | None:
        """`students.validation` of a filled config with the run's normaliser and `decoding` (its DecodeOptions
        fields); None when it names no set."""
        val = config["students"]["validation"]
        if val["set"] is None:
            return None
        return cls(every=val["every"], patience=val["patience"], clips=val["clips"], min_delta=val["min_delta"],
                   normalizer=config["normalizer"], decoding=decoding)


def accumulation_steps(cfg: TrainConfig, processes: int) -> int:
    """Micro-batches per optimiser step on each process, so that an optimiser step sees the global batch.

    Without `global_batch_size` it is `grad_accum` (the global batch is then batch_size x grad_accum x processes);
    with it, global_batch_size / (batch_size x processes), which must divide evenly."""
    if cfg.global_batch_size is None:
        return cfg.grad_accum
    per_pass = cfg.batch_size * processes
    accum, rest = divmod(cfg.global_batch_size, per_pass)
    if rest or not accum:
        raise ValueError(f"students.training.global_batch_size {cfg.global_batch_size} is not a multiple of "
                         f"students.training.batch_size {cfg.batch_size} x {processes} processes "
                         f"(students.training.num_processes): choose a batch_size that divides "
                         f"{cfg.global_batch_size} / {processes}")
    if cfg.grad_accum not in (1, accum):
        raise ValueError(f"students.training.grad_accum {cfg.grad_accum} contradicts students.training."
                         f"global_batch_size {cfg.global_batch_size} = batch_size {cfg.batch_size} x {accum} x "
                         f"{processes} processes: leave grad_accum at 1 when global_batch_size is set")
    return accum


def batch_split(cfg: TrainConfig, processes: int) -> str:
    """How the global batch is split, for the log."""
    accum = accumulation_steps(cfg, processes)
    return (f"global batch {cfg.batch_size * accum * processes} = {cfg.batch_size} per micro-batch x {accum} "
            f"accumulation steps x {processes} process{'es' if processes > 1 else ''}")
