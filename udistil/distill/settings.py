"""Distillation settings: the filled `students.training` section plus the run's seed, language, device and cache."""

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
    batch_size: int
    grad_accum: int
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
    seed: int
    language: str | None
    task: str
    precision: str
    device: str
    cache: dict[str, Any]  # the config's `encoder_cache` section

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Settings from a dict; unknown keys are an error naming them (missing ones: TypeError naming them)."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown distillation settings {sorted(unknown)}")
        return cls(**d)
