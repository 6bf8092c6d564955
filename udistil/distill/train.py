"""The training loop: teacher and student on the kept pseudo-labels, resumable from checkpoints."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from accelerate.utils import broadcast_object_list, set_seed
from tqdm import tqdm
from transformers import AutoFeatureExtractor, AutoTokenizer

from udistil.common.determinism import deterministic_mode
from udistil.common.fileio import write_json
from udistil.distill.batches import MicroBatches, Schedule, load_training_set, prefetch_loader
from udistil.distill.checkpoints import remove_checkpoints, save_checkpoint
from udistil.distill.labels import LabelBuilder
from udistil.distill.loss import distill_loss, label_rows
from udistil.distill.run_report import (
    applied_settings,
    log_passes,
    run_record,
    training_record,
    write_curve,
    write_validation,
)
from udistil.distill.settings import TrainConfig, ValidationConfig
from udistil.distill.setup import load_student, load_teacher, make_accelerator, optimisation, resume, total
from udistil.distill.teacher_targets import TeacherTargets, make_targets
from udistil.distill.validation import Curve, Validator, load_best, save_best
from udistil.models.assets import save_whisper
from udistil.models.encoder_cache import Encoder, EncoderCache, featurize, make_cache

log = logging.getLogger(__name__)
LOSSES = ("loss", "ce", "kl")  # a step's history columns besides step and lr


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
    shared: bool  # the student keeps the teacher's encoder, frozen: one encoder pass serves both
    frozen: bool

    def __post_init__(self):
        self.keys = self.data.keys  # audio_hash per clip, computed once: the cache key of its states and targets
        self.paths = self.data.paths
        self.loader: Iterator[dict] | None = None

    @property
    def accum(self) -> int:
        """Micro-batches per optimiser step on each process (the schedule's)."""
        return self.data.schedule.accum

    def micro_batches(self, start_step: int, max_steps: int) -> list[int]:
        """The micro-batches this process draws from optimiser step `start_step` on."""
        return [m for step in range(start_step, max_steps) for m in self.step_micro_batches(step)]

    def step_micro_batches(self, step: int) -> list[int]:
        """The micro-batches this process draws in optimiser step `step`."""
        return self.data.schedule.micro_batches(step, self.accelerator.process_index)

    def prefetch(self, start_step: int, max_steps: int) -> None:
        """Prepare micro-batches in `dataloader_workers` worker processes (none: each is made when drawn)."""
        if self.cfg.dataloader_workers:
            self.loader = iter(prefetch_loader(data=self.data, micro_batches=self.micro_batches(start_step, max_steps),
                                               workers=self.cfg.dataloader_workers, seed=self.cfg.seed,
                                               pin_memory=self.accelerator.device.type == "cuda"))

    def batch(self, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int], list[np.ndarray], list[str]]:
        """Micro-batch `m`: decoder inputs, labels, the flat indices of the label positions (found on the host, so
        the loss selects them without waiting for the device), label lengths, audio and audio keys (seeded by seed
        and m)."""
        item = self.data[m] if self.loader is None else next(self.loader)
        if item["m"] != m:
            raise RuntimeError(f"prefetched micro-batch {item['m']} where {m} was due")
        if "features" in item:
            self.keys.update(zip(item["idx"], item["keys"], strict=True))
            self.share_features(item["audios"], item["features"])
        elif not self.frozen:  # the trainable student featurises every clip: once, for the teacher too
            self.share_features(item["audios"], featurize(self.s_encoder.fe, item["audios"]))
        device = self.accelerator.device
        tensors = (item["dec"], item["labels"], label_rows(item["labels"]))
        dec, labels, rows = (t.to(device, non_blocking=True) for t in tensors)
        return dec, labels, rows, item["lengths"], item["audios"], item["keys"]

    def share_features(self, audios: list[np.ndarray], features: torch.Tensor) -> None:
        """Hand a micro-batch's log-mel features to both encoders (each reads them where it runs on these clips)."""
        for enc in {id(e): e for e in (self.t_encoder, self.s_encoder)}.values():
            enc.use_features(audios, features)

    def student_logits(self, t_states: torch.Tensor, dec: torch.Tensor, audios: list[np.ndarray],
                       keys: list[str]) -> torch.Tensor:
        if self.frozen:
            states = t_states if self.shared else self.s_encoder(audios, keys)
            return self.student(encoder_outputs=(states,), decoder_input_ids=dec).logits
        self.s_encoder.passes += len(audios)
        return self.student(input_features=self.s_encoder.features(audios), decoder_input_ids=dec).logits

    def micro_step(self, m: int, last: bool) -> dict[str, torch.Tensor]:
        """Micro-batch `m`'s forward and backward; with `last`, the step's gradient sync and optimiser update.
        The Accelerator divides each loss by its `gradient_accumulation_steps` (as under `accumulate`, and as in
        run_distillation.py, also for an epoch's short last step)."""
        acc, cfg = self.accelerator, self.cfg
        dec, labels, rows, lengths, audios, keys = self.batch(m)
        with contextlib.nullcontext() if last else acc.no_sync(self.student), acc.autocast():
            t_states = self.t_encoder(audios, keys)
            t_logits = self.targets(t_states, dec, lengths, keys)
            losses = distill_loss(self.student_logits(t_states, dec, audios, keys), t_logits, labels, cfg, rows)
            acc.backward(losses["loss"])
            if last:
                if cfg.max_grad_norm:
                    acc.clip_grad_norm_(self.student.parameters(), cfg.max_grad_norm)
                self.optimizer_step()
        return losses

    def optimizer_step(self) -> None:
        """The optimiser's update, then the learning-rate schedule's step (once per optimiser step, whatever the
        number of processes) unless fp16's grad scaler skipped the update for an overflow. accelerate's
        `step_was_skipped` misses that with a fused AdamW, whose kernel skips the update itself; the scaler's
        scale, lowered only on an overflow, does not."""
        scaler = self.accelerator.scaler
        scale = scaler.get_scale() if scaler is not None else None
        self.optimizer.step()
        overflow = scaler is not None and scaler.get_scale() < scale
        if not (self.optimizer.step_was_skipped or overflow):
            self.scheduler.step()
        self.optimizer.zero_grad()

    def step(self, step: int) -> dict[str, float]:
        """Optimiser step `step` (0-based): its history row (1-based step, mean losses over the global batch,
        learning rate). The losses stay on the device (in float64, as Python floats would sum them) until one
        transfer at the end of the step."""
        acc = self.accelerator
        sums = torch.zeros(3, dtype=torch.float64, device=acc.device)
        drawn = self.step_micro_batches(step)
        for i, m in enumerate(drawn):
            losses = self.micro_step(m, last=i == len(drawn) - 1)
            sums += torch.stack([losses[k].detach() for k in LOSSES]).double() / len(drawn)
        if acc.num_processes > 1:  # the mean over processes: every micro-batch of the global batch counts once
            sums = acc.reduce(sums, "mean")
        means = dict(zip(LOSSES, sums.tolist(), strict=True))
        return {"step": step + 1, **{k: round(v, 6) for k, v in means.items()}, "lr": self.scheduler.get_last_lr()[0]}


@dataclass
class Run:
    """What `build` makes: the trainer and everything `loop` and `finish` read besides it."""

    trainer: Trainer
    raw_student: torch.nn.Module
    data: pd.DataFrame
    skipped: list[dict]
    sidecar: dict[str, Any]
    tokenizer: Any
    cache: EncoderCache | None
    validator: Validator | None
    device: torch.device
    mixed: str
    examples_per_step: int
    max_steps: int
    ckpt_dir: Path
    history: list[dict]
    curve: Curve
    start_step: int


def validator_for(*, validation: ValidationConfig | None, manifest: str | Path | None, accelerator: Any,
                  shared: bool, t_encoder: Encoder, raw_student: torch.nn.Module, fe: Any, tok: Any
                  ) -> Validator | None:
    """The run's Validator (on the main process only), or None without a validation section. A student sharing
    the teacher's frozen encoder reads the teacher's cached states (through its own Encoder, so the training pass
    counts stay apart), in fp32 for the student's fp32 weights."""
    if validation is None:
        return None
    if manifest is None:
        raise ValueError("validation settings given without a validation manifest")
    if not accelerator.is_main_process:
        return None
    device = accelerator.device
    encoder = (Encoder(t_encoder.model, fe, device, t_encoder.dtype, t_encoder.cache, states_dtype=torch.float32)
               if shared else Encoder(raw_student, fe, device, torch.float32))
    return Validator(validation, manifest, raw_student, encoder, tok)


def validate(run: Run, step: int) -> None:
    """One point of the learning curve: the main process decodes, every process gets its WER (so all take the
    same early-stopping decision); the main process keeps the weights when it is the best so far."""
    accelerator, curve = run.trainer.accelerator, run.curve
    value = [run.validator() if run.validator is not None else None]
    if accelerator.num_processes > 1:
        broadcast_object_list(value, from_process=0)
    if curve.add(step, value[0]) and accelerator.is_main_process:
        save_best(run.raw_student, run.ckpt_dir / "best.pt", step)
    log.info("step %d: validation WER %.2f (best %.2f at step %d)", step, value[0], curve.best()["wer"],
             curve.best()["step"])


def build(*, teacher: str, student_init: str, subset: str | Path, manifest: str | Path, cfg: TrainConfig,
          checkpoint_dir: str | Path, validation: ValidationConfig | None,
          validation_manifest: str | Path | None) -> Run:
    """The run from its inputs: data, teacher, student, optimiser, encoders, targets and the checkpoint to resume."""
    accelerator, device, mixed, accum = make_accelerator(cfg)
    set_seed(cfg.seed)
    tok, fe = AutoTokenizer.from_pretrained(student_init), AutoFeatureExtractor.from_pretrained(student_init)
    builder = LabelBuilder(tok, cfg)
    data, skipped = load_training_set(subset, manifest, builder, cfg.max_label_length)
    if data.empty:
        raise ValueError(f"{subset}: no training examples left (kept none, or all labels too long)")
    for s in skipped if accelerator.is_main_process else []:
        log.warning("skipped %s: %s", s["id"], s["reason"])

    t_model = load_teacher(teacher, accelerator.device, mixed)
    student, sidecar, shared, frozen = load_student(student_init, cfg)
    examples_per_step = cfg.batch_size * accum * accelerator.num_processes
    schedule = Schedule(n=len(data), batch_size=cfg.batch_size, accum=accum, processes=accelerator.num_processes,
                        seed=cfg.seed, epochs=not cfg.max_steps)
    max_steps = cfg.max_steps or math.ceil((cfg.epochs or 1) * schedule.steps_per_epoch)
    student, optimizer, scheduler = accelerator.prepare(student, *optimisation(student, cfg, max_steps, device))
    raw_student = accelerator.unwrap_model(student)

    cache = make_cache(cfg=cfg.cache, model=t_model, n_clips=len(data))
    t_encoder = Encoder(t_model, fe, accelerator.device, t_model.dtype, cache)
    s_cache = make_cache(cfg=cfg.cache, model=raw_student, n_clips=len(data)) if frozen and not shared else None
    s_encoder = t_encoder if shared else Encoder(raw_student, fe, accelerator.device, torch.float32, s_cache)
    label_tokens = int(data["pseudo_label"].map(builder.length).sum())
    targets = make_targets(cfg=cfg.cache, model=t_model, label_tokens=label_tokens,
                           encoder_hash=cache.encoder_hash if cache else None)
    batches = MicroBatches(texts=data["pseudo_label"].tolist(), paths=data["audio"].tolist(), builder=builder,
                           schedule=schedule, fe=fe if cfg.dataloader_workers else None)
    trainer = Trainer(cfg=cfg, accelerator=accelerator, student=student, optimizer=optimizer, scheduler=scheduler,
                      t_encoder=t_encoder, s_encoder=s_encoder, targets=targets, data=batches,
                      shared=shared, frozen=frozen)
    validator = validator_for(validation=validation, manifest=validation_manifest, accelerator=accelerator,
                              shared=shared, t_encoder=t_encoder, raw_student=raw_student, fe=fe, tok=tok)
    inputs = [Path(subset), Path(manifest), *sorted(p for p in Path(student_init).iterdir() if p.is_file()),
              *([Path(validation_manifest)] if validation_manifest else [])]
    settings = {"teacher": teacher, "training": {k: v for k, v in asdict(cfg).items() if k != "cache"},
                "validation": asdict(validation) if validation else None}
    history, curve, start_step = resume(accelerator, Path(checkpoint_dir), max_steps, inputs, settings)
    curve.min_delta = validation.min_delta if validation else 0.0  # what counts as an improvement
    return Run(trainer=trainer, raw_student=raw_student, data=data, skipped=skipped, sidecar=sidecar, tokenizer=tok,
               cache=cache, validator=validator, device=device, mixed=mixed, examples_per_step=examples_per_step,
               max_steps=max_steps, ckpt_dir=Path(checkpoint_dir), history=history, curve=curve,
               start_step=start_step)


def loop(run: Run, validation: ValidationConfig | None, stop_after: int | None) -> tuple[int, bool, float]:
    """Optimiser steps from the resumed one to the last (or early stopping, or `stop_after` steps), validating and
    checkpointing on schedule: (steps done, stopped early, seconds)."""
    trainer, cfg, curve = run.trainer, run.trainer.cfg, run.curve
    if validation and not curve.rows:
        validate(run, step=0)  # the untrained cut: the curve's first point
    started = time.perf_counter()
    trainer.student.train()
    trainer.prefetch(run.start_step, run.max_steps)
    bar = tqdm(total=run.max_steps, initial=run.start_step, desc="distill", unit="step", mininterval=5,
               disable=not trainer.accelerator.is_main_process)
    step, early = run.start_step, False
    while step < run.max_steps and not early and (stop_after is None or step - run.start_step < stop_after):
        run.history.append(trainer.step(step))
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{run.history[-1]['loss']:.3f}")
        if validation and step % validation.every == 0:
            validate(run, step=step)
            early = curve.should_stop(validation.patience) and step < run.max_steps
        if step % cfg.save_steps == 0 and step < run.max_steps and not early:  # the last step saves the model
            save_checkpoint(trainer.accelerator, run.ckpt_dir, step, run.history, cfg.keep_checkpoints, curve.rows)
    bar.close()
    trainer.loader = None
    return step, early, time.perf_counter() - started


def finish(run: Run, *, step: int, early: bool, seconds: float, validation: ValidationConfig | None,
           inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """Count passes over every process; on the main process, restore the best weights and write the model, the
    loss and validation curves and the run record. `inputs`: teacher, student_init, subset; `outputs`: out_*."""
    trainer, cfg, curve = run.trainer, run.trainer.cfg, run.curve
    accelerator = trainer.accelerator
    for enc in {id(e): e for e in (trainer.t_encoder, trainer.s_encoder)}.values():
        enc.passes = total(accelerator, enc.passes)
    trainer.targets.forwards = total(accelerator, trainer.targets.forwards)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return {"steps": step, "process_index": accelerator.process_index}
    best = curve.best() if validation else None
    if best:
        log.info("%s after step %d; best validation WER %.2f at step %d",
                 "stopped early" if early else "trained to the last step", step, best["wer"], best["step"])
        load_best(run.raw_student, run.ckpt_dir / "best.pt", int(best["step"]))
    write_curve(run.history, outputs["out_curve"])
    write_validation(curve.rows, outputs["out_validation"])
    record = run_record(**inputs, cfg=cfg, skipped=run.skipped, steps=step, resumed_from=run.start_step,
                        seconds=seconds, paths=trainer.paths, keys=trainer.keys, t_encoder=trainer.t_encoder,
                        s_encoder=trainer.s_encoder, shared=trainer.shared, frozen=trainer.frozen,
                        targets=trainer.targets, cache=run.cache, history=run.history)
    record["validation"] = ({"best_step": best["step"], "best_wer": best["wer"], "evaluations": len(curve.rows),
                             "stopped_early": early} if best else None)
    record["processes"], record["grad_accum_applied"] = accelerator.num_processes, trainer.accum
    log_passes(record)
    applied = applied_settings(steps=step, examples_per_step=run.examples_per_step, device=run.device,
                               mixed=run.mixed, shared=trainer.shared, frozen=trainer.frozen, cache=run.cache,
                               targets=trainer.targets)
    if best:
        applied["weights_of_step"] = int(best["step"])
    training = training_record(subset=inputs["subset"], data=run.data, cfg=cfg, applied=applied)
    save_whisper(run.raw_student.eval(), run.tokenizer, run.raw_student.generation_config, Path(outputs["out_model"]),
                 {**run.sidecar, "distilled_on": str(inputs["subset"]), "training": training})
    write_json(record, outputs["out_run"])
    if cfg.checkpoints_after_training == "remove":
        remove_checkpoints(run.ckpt_dir)
    return record


def distill(*, teacher: str, student_init: str, subset: str | Path, manifest: str | Path, cfg: TrainConfig,
            out_model: str | Path, out_curve: str | Path, out_run: str | Path, out_validation: str | Path,
            checkpoint_dir: str | Path, validation: ValidationConfig | None = None,
            validation_manifest: str | Path | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Train the student and save it; resume from the newest checkpoint in `checkpoint_dir` if any.

    With `validation`, the student is evaluated on `validation_manifest` before training and every
    `validation.every` steps; training stops after `validation.patience` evaluations without improvement, and
    the saved model has the weights of the lowest validation WER. `out_validation` gets the curve (header only
    without validation). `stop_after` ends the run after that many optimiser steps (as an interruption would),
    for tests. Under torchrun (udistil.distill.worker, started by udistil.distill.launch) each process runs this;
    the main process writes.
    """
    with deterministic_mode(cfg.deterministic):
        run = build(teacher=teacher, student_init=student_init, subset=subset, manifest=manifest, cfg=cfg,
                    checkpoint_dir=checkpoint_dir, validation=validation, validation_manifest=validation_manifest)
        step, early, seconds = loop(run, validation, stop_after)
        if step < run.max_steps and not early:  # stopped on purpose (tests): leave checkpoints, write nothing final
            return {"stopped_at": step}
        return finish(run, step=step, early=early, seconds=seconds, validation=validation,
                      inputs={"teacher": teacher, "student_init": student_init, "subset": subset},
                      outputs={"out_model": out_model, "out_curve": out_curve, "out_run": out_run,
                               "out_validation": out_validation})
