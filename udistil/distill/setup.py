"""What a distillation run is built from: the Accelerator, the teacher and student, the optimiser and the
checkpoint to resume from."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, PartialState
from transformers import WhisperForConditionalGeneration, get_scheduler

from udistil.common.devices import check_precision, pick_device
from udistil.distill.checkpoints import checkpoints, claim, inputs_key
from udistil.distill.settings import TrainConfig, accumulation_steps, batch_split
from udistil.distill.validation import Curve

log = logging.getLogger(__name__)

MIXED_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "no": torch.float32}


def make_accelerator(cfg: TrainConfig) -> tuple[Any, torch.device, str, int]:
    """The Accelerator (one of `num_processes` under torchrun), the device kind, mixed precision and the
    micro-batches per optimiser step that keep the global batch."""
    device = pick_device(cfg.device)
    check_precision(cfg.precision, device)
    # the main process alone decodes the validation set while the others wait: allow it hours, not NCCL's minutes
    processes = PartialState(cpu=device.type == "cpu", timeout=timedelta(hours=6)).num_processes
    accum = accumulation_steps(cfg, processes)
    if processes != cfg.num_processes:
        log.warning("running %d processes where students.training.num_processes is %d", processes,
                    cfg.num_processes)
    mixed = {"bf16": "bf16", "fp16": "fp16"}.get(cfg.precision, "no") if device.type == "cuda" else "no"
    accelerator = Accelerator(mixed_precision=mixed, gradient_accumulation_steps=accum, cpu=device.type == "cpu",
                              step_scheduler_with_optimizer=False)
    log.info("%s", batch_split(cfg, processes))
    return accelerator, device, mixed, accum


def load_teacher(teacher: str, device: torch.device, mixed: str) -> torch.nn.Module:
    """The frozen teacher on `device`, its weights in the training precision (bf16 or fp16 under mixed precision,
    so autocast does not cast fp32 weights at every forward; fp32 otherwise)."""
    precision = {"dtype": MIXED_DTYPES[mixed]} if mixed != "no" else {}
    model = WhisperForConditionalGeneration.from_pretrained(teacher, **precision)
    model.requires_grad_(False)
    return model.to(device).eval()


def load_student(student_init: str, cfg: TrainConfig) -> tuple[torch.nn.Module, dict[str, Any], bool, bool]:
    """The initialised student, its sidecar, and whether its encoder is shared with the teacher and frozen."""
    student = WhisperForConditionalGeneration.from_pretrained(student_init)
    sidecar = json.loads((Path(student_init) / "udistil.json").read_text())
    shared = bool(sidecar.get("encoder_shared")) and cfg.freeze_encoder in ("auto", True)
    frozen = shared or cfg.freeze_encoder is True
    if frozen:
        student.model.encoder.requires_grad_(False)
    if cfg.gradient_checkpointing:
        student.gradient_checkpointing_enable()
    student.config.use_cache = False
    return student, sidecar, shared, frozen


def optimisation(student: torch.nn.Module, cfg: TrainConfig, max_steps: int, device: torch.device
                 ) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW over the trainable parameters (fused on a GPU; on a CPU the default implementation, whose numbers the
    tests pin) and the configured learning-rate schedule."""
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay, **fused)
    return optimizer, get_scheduler(cfg.scheduler, optimizer, num_warmup_steps=cfg.warmup_steps,
                                    num_training_steps=max_steps)


def resume(accelerator, ckpt_dir: Path, max_steps: int, inputs: list[Path], settings: dict[str, Any]
           ) -> tuple[list[dict], Curve, int]:
    """Load the newest complete checkpoint in `ckpt_dir` written for these input files and settings, if any: (loss
    history, validation curve, steps done). The main process alone hashes the inputs (`inputs_key`) and removes
    checkpoints of other inputs first."""
    if accelerator.is_main_process:
        claim(ckpt_dir, inputs_key(inputs, settings))
    accelerator.wait_for_everyone()
    found = checkpoints(ckpt_dir)
    if not found:
        return [], Curve(), 0
    accelerator.load_state(str(found[-1]))
    start_step = int(found[-1].name.split("-")[1])
    log.info("resumed from %s (step %d of %d)", found[-1], start_step, max_steps)
    curve_file = found[-1] / "validation.json"
    curve = Curve(json.loads(curve_file.read_text())) if curve_file.exists() else Curve()
    return json.loads((found[-1] / "history.json").read_text()), curve, start_step


def total(accelerator, count: float) -> float:
    """A counter summed over the processes."""
    if accelerator.num_processes == 1:
        return count
    return float(accelerator.reduce(torch.tensor([float(count)], dtype=torch.float64, device=accelerator.device),
                                    "sum").item())
