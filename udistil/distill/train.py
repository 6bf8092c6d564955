"""The training loop: teacher and student on the kept pseudo-labels, resumable from checkpoints."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from udistil.determinism import deterministic_mode
from udistil.distill.batches import MicroBatches, load_training_set, prefetch_loader
from udistil.distill.checkpoints import checkpoints, save_checkpoint
from udistil.distill.labels import LabelBuilder
from udistil.distill.loss import distill_loss
from udistil.distill.run_report import log_passes, run_record, write_curve, write_validation
from udistil.distill.settings import TrainConfig, accumulation_steps, batch_split
from udistil.distill.validation import Curve, ValidationConfig, Validator, load_best, save_best
from udistil.encoder_cache import Encoder, EncoderCache, make_cache
from udistil.fileio import write_json
from udistil.teacher_targets import TeacherTargets, make_targets

log = logging.getLogger(__name__)


@dataclass
class Trainer:
    """One run's models, encoders, optimiser and data; `step` is one optimiser step over `accum` micro-batches on
    each process (micro-batch m of the run's sequence goes to process m mod processes)."""

    cfg: TrainConfig
    accelerator: Any
    student: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    t_encoder: Encoder
    s_encoder: Encoder
    targets: TeacherTargets
    data: MicroBatches
    accum: int  # micro-batches per optimiser step on each process
    shared: bool  # the student keeps the teacher's encoder, frozen: one encoder pass serves both
    frozen: bool

    def __post_init__(self):
        self.keys = self.data.keys  # audio_hash per clip, computed once: the cache key of its states and targets
        self.paths = self.data.paths
        self.loader: Iterator[dict] | None = None

    def micro_batches(self, start_step: int, max_steps: int) -> list[int]:
        """The micro-batches this process draws from optimiser step `start_step` on."""
        acc = self.accelerator
        return [(step * self.accum + micro) * acc.num_processes + acc.process_index
                for step in range(start_step, max_steps) for micro in range(self.accum)]

    def prefetch(self, start_step: int, max_steps: int) -> None:
        """Prepare micro-batches in `dataloader_workers` worker processes (none: each is made when drawn)."""
        if self.cfg.dataloader_workers:
            self.loader = iter(prefetch_loader(data=self.data, micro_batches=self.micro_batches(start_step, max_steps),
                                               workers=self.cfg.dataloader_workers, seed=self.cfg.seed))

    def batch(self, m: int) -> tuple[torch.Tensor, torch.Tensor, list[int], list[np.ndarray], list[str]]:
        """Micro-batch `m`: decoder inputs, labels, label lengths, audio and audio keys (seeded by seed and m)."""
        item = self.data[m] if self.loader is None else next(self.loader)
        if item["m"] != m:
            raise RuntimeError(f"prefetched micro-batch {item['m']} where {m} was due")
        if "features" in item:
            self.keys.update(zip(item["idx"], item["keys"], strict=True))
            for enc in {id(e): e for e in (self.t_encoder, self.s_encoder)}.values():
                enc.use_features(item["audios"], item["features"])
        device = self.accelerator.device
        return item["dec"].to(device), item["labels"].to(device), item["lengths"], item["audios"], item["keys"]

    def student_logits(self, t_states: torch.Tensor, dec: torch.Tensor, audios: list[np.ndarray],
                       keys: list[str]) -> torch.Tensor:
        if self.frozen:
            states = t_states if self.shared else self.s_encoder(audios, keys)
            return self.student(encoder_outputs=(states,), decoder_input_ids=dec).logits
        self.s_encoder.passes += len(audios)
        return self.student(input_features=self.s_encoder.features(audios), decoder_input_ids=dec).logits

    def micro_step(self, m: int) -> dict[str, torch.Tensor]:
        acc, cfg = self.accelerator, self.cfg
        dec, labels, lengths, audios, keys = self.batch(m)
        with acc.accumulate(self.student), acc.autocast():
            t_states = self.t_encoder(audios, keys)
            t_logits = self.targets(t_states, dec, lengths, keys)
            losses = distill_loss(self.student_logits(t_states, dec, audios, keys), t_logits, labels, cfg)
            acc.backward(losses["loss"])
            if acc.sync_gradients and cfg.max_grad_norm:
                acc.clip_grad_norm_(self.student.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            if acc.sync_gradients and not self.optimizer.step_was_skipped:
                self.scheduler.step()  # once per optimiser step, whatever the number of processes
            self.optimizer.zero_grad()
        return losses

    def step(self, step: int) -> dict[str, float]:
        """Optimiser step `step` (0-based): its history row (1-based step, mean losses over the global batch,
        learning rate)."""
        acc = self.accelerator
        sums = {"loss": 0.0, "ce": 0.0, "kl": 0.0}
        for micro in range(self.accum):
            losses = self.micro_step((step * self.accum + micro) * acc.num_processes + acc.process_index)
            for k in sums:
                sums[k] += float(losses[k].detach()) / self.accum
        if acc.num_processes > 1:  # the mean over processes: every micro-batch of the global batch counts once
            means = acc.reduce(torch.tensor(list(sums.values()), dtype=torch.float64, device=acc.device), "mean")
            sums = dict(zip(sums, means.tolist(), strict=True))
        return {"step": step + 1, **{k: round(v, 6) for k, v in sums.items()}, "lr": self.scheduler.get_last_lr()[0]}


def training_record(*, subset: str | Path, data: pd.DataFrame, cfg: TrainConfig, applied: dict[str, Any]
                    ) -> dict[str, Any]:
    """What the model card says of the training: subset (`results/subsets/<pool>/<filter>`), its size, the
    configured settings and what they came to on this machine (`applied`: steps, device, precision, ...)."""
    seconds = pd.read_parquet(subset, columns=["id", "duration_s"]).set_index("id")["duration_s"]
    return {"pool": Path(subset).parent.name, "filter": Path(subset).stem, "clips": len(data),
            "hours": round(float(seconds.reindex(data["id"]).sum()) / 3600, 4), "steps": applied["optimiser_steps"],
            "applied": applied, "settings": {k: v for k, v in asdict(cfg).items() if k != "cache"}}


def applied_settings(*, steps: int, examples_per_step: int, device: torch.device, mixed: str, shared: bool,
                     frozen: bool, cache: EncoderCache | None, targets: TeacherTargets) -> dict[str, Any]:
    """The settings as they took effect: `auto` values resolved, precision as run on this device."""
    return {"optimiser_steps": steps, "examples_per_step": examples_per_step, "device": device.type,
            "mixed_precision": mixed,
            "encoder": "shared with the teacher, frozen" if shared else "frozen" if frozen else "trained",
            "encoder_cache": "on" if cache else "off",
            "teacher_targets": "stored and reused" if targets.store else "recomputed every step"}


def load_student(student_init: str, cfg: TrainConfig) -> tuple[torch.nn.Module, dict[str, Any], bool, bool]:
    """The initialised student, its sidecar, and whether its encoder is shared with the teacher and frozen."""
    from transformers import WhisperForConditionalGeneration

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


def optimisation(student: torch.nn.Module, cfg: TrainConfig, max_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW over the trainable parameters and the configured learning-rate schedule."""
    from transformers import get_scheduler

    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    return optimizer, get_scheduler(cfg.scheduler, optimizer, num_warmup_steps=cfg.warmup_steps,
                                    num_training_steps=max_steps)


def resume(accelerator, ckpt_dir: Path, max_steps: int) -> tuple[list[dict], Curve, int]:
    """Load the newest complete checkpoint in `ckpt_dir`, if any: (loss history, validation curve, steps done)."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    found = checkpoints(ckpt_dir)
    if not found:
        return [], Curve(), 0
    accelerator.load_state(str(found[-1]))
    start_step = int(found[-1].name.split("-")[1])
    log.info("resumed from %s (step %d of %d)", found[-1], start_step, max_steps)
    curve_file = found[-1] / "validation.json"
    curve = Curve(json.loads(curve_file.read_text())) if curve_file.exists() else Curve()
    return json.loads((found[-1] / "history.json").read_text()), curve, start_step


def validator_for(*, validation: ValidationConfig | None, manifest: str | Path | None, trainer: Trainer,
                  t_model: torch.nn.Module, raw_student: torch.nn.Module, fe: Any, tok: Any, cache: EncoderCache | None
                  ) -> Validator | None:
    """The run's Validator (on the main process only), or None without a validation section. A student sharing
    the teacher's frozen encoder reads the teacher's cached states (through its own Encoder, so the training pass
    counts stay apart)."""
    if validation is None:
        return None
    if manifest is None:
        raise ValueError("validation settings given without a validation manifest")
    if not trainer.accelerator.is_main_process:
        return None
    device = trainer.accelerator.device
    encoder = (Encoder(t_model, fe, device, torch.float32, cache) if trainer.shared
               else Encoder(raw_student, fe, device, torch.float32))
    return Validator(validation, manifest, raw_student, encoder, tok)


def validate(*, accelerator, validator: Validator | None, curve: Curve, raw_student: torch.nn.Module,
             best_file: Path, step: int) -> None:
    """One point of the learning curve: the main process decodes, every process gets its WER (so all take the
    same early-stopping decision); the main process keeps the weights when it is the best so far."""
    from accelerate.utils import broadcast_object_list

    value = [validator() if validator is not None else None]
    if accelerator.num_processes > 1:
        broadcast_object_list(value, from_process=0)
    if curve.add(step, value[0]) and accelerator.is_main_process:
        save_best(raw_student, best_file, step)
    log.info("step %d: validation WER %.2f (best %.2f at step %d)", step, value[0], curve.best()["wer"],
             curve.best()["step"])


def total(accelerator, count: float) -> float:
    """A counter summed over the processes."""
    if accelerator.num_processes == 1:
        return count
    return float(accelerator.reduce(torch.tensor([float(count)], dtype=torch.float64, device=accelerator.device),
                                    "sum").item())


def make_accelerator(cfg: TrainConfig) -> tuple[Any, torch.device, str, int]:
    """The Accelerator (one of `num_processes` under torchrun), the device kind, mixed precision and the
    micro-batches per optimiser step that keep the global batch."""
    from accelerate import Accelerator, PartialState

    from udistil.decoding import pick_device

    device = pick_device(cfg.device)
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


def distill(*, teacher: str, student_init: str, subset: str | Path, manifest: str | Path, cfg: TrainConfig,
            out_model: str | Path, out_curve: str | Path, out_run: str | Path, out_validation: str | Path,
            checkpoint_dir: str | Path, validation: ValidationConfig | None = None,
            validation_manifest: str | Path | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Train the student and save it; resume from the newest checkpoint in `checkpoint_dir` if any.

    With `validation`, the student is evaluated on `validation_manifest` before training and every
    `validation.every` steps; training stops after `validation.patience` evaluations without improvement, and
    the saved model has the weights of the lowest validation WER. `out_validation` gets the curve (header only
    without validation). `stop_after` ends the run after that many optimiser steps (as an interruption would),
    for tests. Under torchrun (udistil.distill.launch) each process runs this; the main process writes.
    """
    with deterministic_mode(cfg.deterministic):
        return train(teacher=teacher, student_init=student_init, subset=subset, manifest=manifest, cfg=cfg,
                     out_model=out_model, out_curve=out_curve, out_run=out_run, out_validation=out_validation,
                     checkpoint_dir=checkpoint_dir, validation=validation, validation_manifest=validation_manifest,
                     stop_after=stop_after)


def train(*, teacher: str, student_init: str, subset: str | Path, manifest: str | Path, cfg: TrainConfig,
          out_model: str | Path, out_curve: str | Path, out_run: str | Path, out_validation: str | Path,
          checkpoint_dir: str | Path, validation: ValidationConfig | None, validation_manifest: str | Path | None,
          stop_after: int | None) -> dict[str, Any]:
    """`distill` under the determinism settings already applied."""
    from accelerate.utils import set_seed
    from transformers import AutoFeatureExtractor, AutoTokenizer, WhisperForConditionalGeneration

    from udistil.assets import save_whisper

    accelerator, device, mixed, accum = make_accelerator(cfg)
    main = accelerator.is_main_process
    set_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(student_init)
    fe = AutoFeatureExtractor.from_pretrained(student_init)
    builder = LabelBuilder(tok, cfg)
    data, skipped = load_training_set(subset, manifest, builder, cfg.max_label_length)
    if data.empty:
        raise ValueError(f"{subset}: no training examples left (kept none, or all labels too long)")
    for s in skipped if main else []:
        log.warning("skipped %s: %s", s["id"], s["reason"])

    t_model = WhisperForConditionalGeneration.from_pretrained(teacher).to(accelerator.device).eval()
    t_model.requires_grad_(False)
    student, sidecar, shared, frozen = load_student(student_init, cfg)
    examples_per_step = cfg.batch_size * accum * accelerator.num_processes
    steps_per_epoch = math.ceil(len(data) / examples_per_step)
    max_steps = cfg.max_steps if cfg.max_steps else math.ceil((cfg.epochs or 1) * steps_per_epoch)
    optimizer, scheduler = optimisation(student, cfg, max_steps)
    student, optimizer, scheduler = accelerator.prepare(student, optimizer, scheduler)
    raw_student = accelerator.unwrap_model(student)

    dtype = torch.float32
    cache = make_cache(cfg=cfg.cache, model=t_model, n_clips=len(data))
    t_encoder = Encoder(t_model, fe, accelerator.device, dtype, cache)
    s_cache = make_cache(cfg=cfg.cache, model=raw_student, n_clips=len(data)) if frozen and not shared else None
    s_encoder = t_encoder if shared else Encoder(raw_student, fe, accelerator.device, dtype, s_cache)
    label_tokens = int(data["pseudo_label"].map(builder.length).sum())
    targets = make_targets(cfg=cfg.cache, model=t_model, label_tokens=label_tokens,
                           encoder_hash=cache.encoder_hash if cache else None)

    ckpt_dir = Path(checkpoint_dir)
    history, curve, start_step = resume(accelerator, ckpt_dir, max_steps)
    curve.min_delta = validation.min_delta if validation else 0.0  # what counts as an improvement
    batches = MicroBatches(texts=data["pseudo_label"].tolist(), paths=data["audio"].tolist(), builder=builder,
                           batch_size=cfg.batch_size, seed=cfg.seed, fe=fe if cfg.dataloader_workers else None)
    trainer = Trainer(cfg=cfg, accelerator=accelerator, student=student, optimizer=optimizer, scheduler=scheduler,
                      t_encoder=t_encoder, s_encoder=s_encoder, targets=targets, data=batches, accum=accum,
                      shared=shared, frozen=frozen)
    validator = validator_for(validation=validation, manifest=validation_manifest, trainer=trainer, t_model=t_model,
                              raw_student=raw_student, fe=fe, tok=tok, cache=cache)
    best_file = ckpt_dir / "best.pt"
    check = {"accelerator": accelerator, "validator": validator, "curve": curve, "raw_student": raw_student,
             "best_file": best_file}
    if validation and not curve.rows:
        validate(**check, step=0)  # the untrained cut: the curve's first point
    started = time.perf_counter()
    student.train()
    trainer.prefetch(start_step, max_steps)
    bar = tqdm(total=max_steps, initial=start_step, desc="distill", unit="step", mininterval=5, disable=not main)
    step, early = start_step, False
    while step < max_steps and not early and (stop_after is None or step - start_step < stop_after):
        history.append(trainer.step(step))
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
        if validation and step % validation.every == 0:
            validate(**check, step=step)
            early = curve.should_stop(validation.patience) and step < max_steps
        if step % cfg.save_steps == 0 and step < max_steps and not early:  # the last step saves the model itself
            save_checkpoint(accelerator, ckpt_dir, step, history, cfg.keep_checkpoints, curve.rows)
    bar.close()
    trainer.loader = None
    seconds = time.perf_counter() - started
    if step < max_steps and not early:  # stopped on purpose (tests): leave checkpoints, write nothing final
        return {"stopped_at": step}
    for enc in {id(e): e for e in (t_encoder, s_encoder)}.values():
        enc.passes = total(accelerator, enc.passes)
    targets.forwards = total(accelerator, targets.forwards)
    accelerator.wait_for_everyone()
    if not main:
        return {"steps": step, "process_index": accelerator.process_index}
    if validation:
        log.info("%s after step %d; best validation WER %.2f at step %d",
                 "stopped early" if early else "trained to the last step", step, curve.best()["wer"],
                 curve.best()["step"])
        load_best(raw_student, best_file, int(curve.best()["step"]))

    write_curve(history, out_curve)
    write_validation(curve.rows, out_validation)
    run = run_record(teacher=teacher, student_init=student_init, subset=subset, cfg=cfg, skipped=skipped,
                     steps=step, resumed_from=start_step, seconds=seconds, trainer=trainer, cache=cache,
                     history=history)
    run["validation"] = ({"best_step": curve.best()["step"], "best_wer": curve.best()["wer"],
                          "evaluations": len(curve.rows), "stopped_early": early} if validation else None)
    run["processes"], run["grad_accum_applied"] = accelerator.num_processes, accum
    log_passes(run)
    applied = applied_settings(steps=step, examples_per_step=examples_per_step, device=device, mixed=mixed,
                               shared=shared, frozen=frozen, cache=cache, targets=targets)
    if validation:
        applied["weights_of_step"] = int(curve.best()["step"])
    training = training_record(subset=subset, data=data, cfg=cfg, applied=applied)
    save_whisper(raw_student.eval(), tok, raw_student.generation_config, Path(out_model),
                 {**sidecar, "distilled_on": str(subset), "training": training})
    write_json(run, out_run)
    return run
