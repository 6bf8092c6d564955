"""The training loop: teacher and student on the kept pseudo-labels, resumable from checkpoints."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from udistil.distill.batches import batch_indices, collate, load_training_set
from udistil.distill.checkpoints import checkpoints, save_checkpoint
from udistil.distill.labels import LabelBuilder
from udistil.distill.loss import distill_loss
from udistil.distill.run_report import pipeline_passes, write_curve
from udistil.distill.settings import TrainConfig
from udistil.encoder_cache import Encoder, audio_hash, make_cache
from udistil.fileio import read_audio, write_json
from udistil.teacher_targets import make_targets

log = logging.getLogger(__name__)


def training_record(subset: str | Path, data, steps: int, cfg: TrainConfig) -> dict[str, Any]:
    """What the model card says of the training: subset (`results/subsets/<pool>/<filter>`), size, settings."""
    import pandas as pd

    seconds = pd.read_parquet(subset, columns=["id", "duration_s"]).set_index("id")["duration_s"]
    return {"pool": Path(subset).parent.name, "filter": Path(subset).stem, "clips": len(data),
            "hours": round(float(seconds.reindex(data["id"]).sum()) / 3600, 4), "steps": steps,
            "settings": {k: v for k, v in asdict(cfg).items() if k != "cache"}}


def distill(*, teacher: str, student_init: str, subset: str | Path, manifest: str | Path, cfg: TrainConfig,
            out_model: str | Path, out_curve: str | Path, out_run: str | Path,
            checkpoint_dir: str | Path, stop_after: int | None = None) -> dict[str, Any]:
    """Train the student and save it; resume from the newest checkpoint in `checkpoint_dir` if any.

    `stop_after` ends the run after that many optimiser steps (as an interruption would), for tests.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import AutoFeatureExtractor, AutoTokenizer, WhisperForConditionalGeneration, get_scheduler

    from udistil.assets import save_whisper
    from udistil.decoding import pick_device

    device = pick_device(cfg.device)
    mixed = {"bf16": "bf16", "fp16": "fp16"}.get(cfg.precision, "no") if device.type == "cuda" else "no"
    accelerator = Accelerator(mixed_precision=mixed, gradient_accumulation_steps=cfg.grad_accum,
                              cpu=device.type == "cpu")
    set_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(student_init)
    fe = AutoFeatureExtractor.from_pretrained(student_init)
    builder = LabelBuilder(tok, cfg)
    data, skipped = load_training_set(subset, manifest, builder, cfg.max_label_length)
    if data.empty:
        raise ValueError(f"{subset}: no training examples left (kept none, or all labels too long)")
    for s in skipped:
        log.warning("skipped %s: %s", s["id"], s["reason"])

    t_model = WhisperForConditionalGeneration.from_pretrained(teacher).to(accelerator.device).eval()
    t_model.requires_grad_(False)
    student = WhisperForConditionalGeneration.from_pretrained(student_init)
    sidecar = json.loads((Path(student_init) / "udistil.json").read_text())
    shared = bool(sidecar.get("encoder_shared")) and cfg.freeze_encoder in ("auto", True)
    frozen = shared or cfg.freeze_encoder is True
    if frozen:
        student.model.encoder.requires_grad_(False)
    if cfg.gradient_checkpointing:
        student.gradient_checkpointing_enable()
    student.config.use_cache = False

    steps_per_epoch = math.ceil(len(data) / (cfg.batch_size * cfg.grad_accum * accelerator.num_processes))
    max_steps = cfg.max_steps if cfg.max_steps else math.ceil((cfg.epochs or 1) * steps_per_epoch)
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    scheduler = get_scheduler(cfg.scheduler, optimizer, num_warmup_steps=cfg.warmup_steps,
                              num_training_steps=max_steps)
    student, optimizer, scheduler = accelerator.prepare(student, optimizer, scheduler)
    raw_student = accelerator.unwrap_model(student)

    dtype = torch.float32
    cache = make_cache(cfg.cache, t_model, len(data))
    t_encoder = Encoder(t_model, fe, accelerator.device, dtype, cache)
    s_encoder = t_encoder if shared else Encoder(raw_student, fe, accelerator.device, dtype,
                                                 make_cache(cfg.cache, raw_student, len(data)) if frozen else None)
    targets = make_targets(cfg.cache, t_model, int(data["pseudo_label"].map(builder.length).sum()))

    ckpt_dir = Path(checkpoint_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict] = []
    start_step = 0
    found = checkpoints(ckpt_dir)
    if found:
        accelerator.load_state(str(found[-1]))
        history = json.loads((found[-1] / "history.json").read_text())
        start_step = int(found[-1].name.split("-")[1])
        log.info("resumed from %s (step %d of %d)", found[-1], start_step, max_steps)

    texts, paths = data["pseudo_label"].tolist(), data["audio"].tolist()
    keys: dict[int, str] = {}  # audio_hash per clip, computed once: the cache key of its states and targets
    started = time.perf_counter()
    student.train()
    bar = tqdm(total=max_steps, initial=start_step, desc="distill", unit="step", mininterval=5)
    step = start_step
    while step < max_steps and (stop_after is None or step - start_step < stop_after):
        sums = {"loss": 0.0, "ce": 0.0, "kl": 0.0}
        for micro in range(cfg.grad_accum):
            m = (step * cfg.grad_accum + micro) * accelerator.num_processes + accelerator.process_index
            idx = batch_indices(len(data), cfg.batch_size, m, cfg.seed)
            rng = np.random.default_rng([cfg.seed, 1, m])
            examples = [builder.example(texts[i], texts[i - 1] if i > 0 else None, rng) for i in idx]
            dec, labels = collate(examples, builder.eot)
            dec, labels = dec.to(accelerator.device), labels.to(accelerator.device)
            audios = [read_audio(paths[i]) for i in idx]
            for i, a in zip(idx, audios, strict=True):
                if i not in keys:
                    keys[i] = audio_hash(a)
            batch_keys = [keys[i] for i in idx]
            with accelerator.accumulate(student), accelerator.autocast():
                t_states = t_encoder(audios, batch_keys)
                t_logits = targets(t_states, dec, [len(d) for d, _ in examples], batch_keys)
                if frozen:
                    s_out = student(encoder_outputs=(t_states if shared else s_encoder(audios, batch_keys),),
                                    decoder_input_ids=dec)
                else:
                    s_out = student(input_features=s_encoder.features(audios), decoder_input_ids=dec)
                    s_encoder.passes += len(audios)
                losses = distill_loss(s_out.logits, t_logits, labels, cfg)
                accelerator.backward(losses["loss"])
                if accelerator.sync_gradients and cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(student.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            for k in sums:
                sums[k] += float(losses[k].detach()) / cfg.grad_accum
        step += 1
        history.append({"step": step, **{k: round(v, 6) for k, v in sums.items()},
                        "lr": scheduler.get_last_lr()[0]})
        bar.update(1)
        bar.set_postfix(loss=f"{sums['loss']:.3f}")
        if step % cfg.save_steps == 0 and step < max_steps:  # the last step saves the model itself
            save_checkpoint(accelerator, ckpt_dir, step, history, cfg.keep_checkpoints)
    bar.close()
    seconds = time.perf_counter() - started
    if step < max_steps:  # stopped early on purpose (tests): leave checkpoints, write nothing final
        return {"stopped_at": step}

    write_curve(history, out_curve)
    n_clips = len(data)
    run = {"teacher": teacher, "student_init": student_init, "subset": str(subset), "config": asdict(cfg),
           "clips": n_clips, "skipped": skipped, "steps": max_steps, "resumed_from": start_step,
           "train_seconds_this_run": round(seconds, 3),
           "encoder_shared_and_frozen": shared, "encoder_frozen": frozen,
           "teacher_encoder_passes_per_clip": round(t_encoder.passes / n_clips, 4),
           "student_encoder_passes_per_clip": round(s_encoder.passes / n_clips, 4) if not shared else None,
           "encoder_cache": str(cache.dir) if cache else None,
           "teacher_encoder_passes_per_clip_all_jobs": pipeline_passes(cache, paths, keys),
           "teacher_decoder_forwards_per_clip": round(targets.forwards / n_clips, 4),
           "teacher_targets_cache": str(targets.store.dir) if targets.store else None,
           "final_loss": history[-1]["loss"], "first_loss": history[0]["loss"]}
    log.info("encoder forward passes per clip this run: teacher %.3f%s", run["teacher_encoder_passes_per_clip"],
             " (shared with the student)" if shared else f", student {run['student_encoder_passes_per_clip']}")
    if run["teacher_encoder_passes_per_clip_all_jobs"]:
        log.info("teacher encoder forward passes per training clip over every job sharing the cache: %s",
                 run["teacher_encoder_passes_per_clip_all_jobs"])
    log.info("teacher decoder forward passes per clip this run: %.3f (%s)", run["teacher_decoder_forwards_per_clip"],
             "targets stored and reused" if targets.store else "recomputed every step")
    gen = raw_student.generation_config
    training = training_record(subset, data, max_steps, cfg)
    save_whisper(raw_student.eval(), tok, gen, Path(out_model),
                 {**sidecar, "distilled_on": str(subset), "training": training})
    write_json(run, out_run)
    return run
