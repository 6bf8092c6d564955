"""Distillation of a Whisper student on pseudo-labels: 0.8 x CE + 1.0 x KL(T=2) x T^2, as distil-whisper.

Beyond distil-whisper: encoder states are computed once per clip (shared by teacher and student when the
student keeps the teacher's frozen encoder) and read from the encoder cache; every step's data and
conditioning come from RNGs seeded by (seed, step), and checkpoints hold model, optimiser, scheduler and
loss history, so a run killed after a checkpoint resumes to the same weights as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from udistil.assets import is_multilingual
from udistil.encoder_cache import Encoder, audio_hash, make_cache
from udistil.fileio import atomic_path, read_audio, write_json
from udistil.teacher_targets import make_targets

log = logging.getLogger(__name__)

TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")


@dataclass
class TrainConfig:
    learning_rate: float = 1e-4
    warmup_steps: int = 50
    scheduler: str = "constant_with_warmup"
    max_steps: int | None = 5000
    epochs: float | None = None
    batch_size: int = 32
    grad_accum: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    ce_weight: float = 0.8
    kl_weight: float = 1.0
    temperature: float = 2.0
    max_label_length: int = 225
    timestamp_probability: float = 0.2
    condition_on_prev_probability: float = 0.2
    freeze_encoder: bool | str = "auto"  # auto: frozen when the student keeps the teacher's encoder
    gradient_checkpointing: bool = False
    save_steps: int = 100
    keep_checkpoints: int = 2
    seed: int = 0
    language: str | None = "en"
    task: str = "transcribe"
    precision: str = "fp32"
    device: str = "auto"
    cache: dict[str, Any] = field(default_factory=lambda: {"mode": "auto"})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown distillation settings {sorted(unknown)}")
        return cls(**d)


# ---- loss ------------------------------------------------------------------------------------------------------


def kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            temperature: float) -> torch.Tensor:
    """KL(teacher || student) at temperature T over label positions: summed over the vocabulary, averaged
    over tokens, times T^2 (distil-whisper's `kl_divergence`)."""
    mask = labels != -100
    s = F.log_softmax(student_logits[mask].float() / temperature, dim=-1)
    t = F.softmax(teacher_logits[mask].float() / temperature, dim=-1)
    kl = F.kl_div(s, t, reduction="none").sum(-1)
    return kl.mean() * temperature**2 if kl.numel() else student_logits.sum() * 0


def distill_loss(student_logits, teacher_logits, labels, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    ce = F.cross_entropy(student_logits.float().transpose(1, 2), labels, ignore_index=-100)
    kl = kl_loss(student_logits, teacher_logits, labels, cfg.temperature)
    return {"loss": cfg.ce_weight * ce + cfg.kl_weight * kl, "ce": ce, "kl": kl}


# ---- data ------------------------------------------------------------------------------------------------------


class LabelBuilder:
    """Decoder inputs and labels from pseudo-labels, with timestamp and previous-text conditioning."""

    def __init__(self, tokenizer, cfg: TrainConfig):
        self.tok = tokenizer
        self.cfg = cfg
        lang = cfg.language if is_multilingual(tokenizer) else None  # English-only models take no language token
        tokenizer.set_prefix_tokens(language=lang, task=cfg.task, predict_timestamps=False)
        self.prefix = list(tokenizer.prefix_tokens)
        tokenizer.set_prefix_tokens(language=lang, task=cfg.task, predict_timestamps=True)
        self.prefix_ts = list(tokenizer.prefix_tokens)
        self.eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        self.prev = tokenizer.convert_tokens_to_ids("<|startofprev|>")

    def text_ids(self, text: str, keep_timestamps: bool) -> list[int]:
        if not keep_timestamps:
            text = TIMESTAMP.sub("", text)
        return self.tok(" " + text.strip(), add_special_tokens=False).input_ids

    def example(self, text: str, prev: str | None, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """(decoder input ids, labels) for one pseudo-label; prompt tokens from the previous text are masked."""
        has_ts = bool(TIMESTAMP.search(text))
        keep_ts = has_ts and rng.random() < self.cfg.timestamp_probability
        seq = (self.prefix_ts if keep_ts else self.prefix) + self.text_ids(text, keep_ts) + [self.eot]
        n_prompt = 0
        if prev and rng.random() < self.cfg.condition_on_prev_probability:
            room = max(0, self.cfg.max_label_length // 2)
            prompt = [self.prev] + self.text_ids(prev, keep_ts)[-room:]
            seq, n_prompt = prompt + seq, len(prompt)
        labels = seq[1:]
        labels = [-100] * max(0, n_prompt - 1) + labels[max(0, n_prompt - 1):]
        return seq[:-1], labels

    def length(self, text: str) -> int:
        return len(self.prefix) + len(self.text_ids(text, False)) + 1


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(d) for d, _ in examples)
    dec = torch.full((len(examples), width), pad_id, dtype=torch.long)
    lab = torch.full((len(examples), width), -100, dtype=torch.long)
    for i, (d, lbl) in enumerate(examples):
        dec[i, :len(d)] = torch.tensor(d)
        lab[i, :len(lbl)] = torch.tensor(lbl)
    return dec, lab


def batch_indices(n: int, batch_size: int, micro_step: int, seed: int) -> list[int]:
    """The examples of a micro-batch: consecutive slices of per-epoch permutations seeded by (seed, epoch)."""
    start = micro_step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, pos = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        out.extend(perm[pos:pos + batch_size - len(out)].tolist())
    return out


# ---- checkpoints ---------------------------------------------------------------------------------------------


def checkpoints(folder: Path) -> list[Path]:
    found = [p for p in folder.glob("step-*") if p.is_dir() and (p / "done").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def save_checkpoint(accelerator, folder: Path, step: int, history: list[dict], keep: int) -> None:
    """Save accelerator state (model, optimiser, scheduler, RNG) atomically: written beside, then renamed."""
    final = folder / f"step-{step}"
    tmp = folder / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    accelerator.save_state(str(tmp), safe_serialization=True)
    (tmp / "history.json").write_text(json.dumps(history))
    (tmp / "done").write_text(str(step))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# ---- training --------------------------------------------------------------------------------------------------


def load_training_set(subset: str | Path, manifest: str | Path, builder: LabelBuilder, max_label_length: int
                      ) -> tuple[pd.DataFrame, list[dict]]:
    """The subset joined to audio paths, without labels longer than `max_label_length` (listed, not lost)."""
    from udistil.manifest import read_manifest

    df = pd.read_parquet(subset)[["id", "pseudo_label"]].merge(read_manifest(manifest)[["id", "audio"]], on="id",
                                                               how="left", validate="one_to_one")
    if df["audio"].isna().any():
        raise ValueError(f"{subset}: ids missing from {manifest}: {df.loc[df.audio.isna(), 'id'].tolist()[:10]}")
    lengths = df["pseudo_label"].map(builder.length)
    too_long = lengths > max_label_length
    skipped = [{"id": u, "reason": f"label of {n} tokens > max_label_length {max_label_length}"}
               for u, n in zip(df.loc[too_long, "id"], lengths[too_long], strict=True)]
    return df[~too_long].reset_index(drop=True), skipped


def distill(teacher: str, student_init: str, subset: str | Path, manifest: str | Path, cfg: TrainConfig,
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
    save_whisper(raw_student.eval(), tok, gen, Path(out_model), {**sidecar, "distilled_on": str(subset)})
    write_json(run, out_run)
    return run


def pipeline_passes(cache, paths: list[str], keys: dict[int, str]) -> dict[str, float] | None:
    """Mean and max encoder passes per clip over every job that shared the cache (None without a cache);
    `keys` holds the audio hashes of the clips training drew (the others are read and hashed here)."""
    if cache is None:
        return None
    counts = cache.passes_per_clip([keys.get(i) or audio_hash(read_audio(p)) for i, p in enumerate(paths)])
    return {"mean": round(float(np.mean(counts)), 4), "max": int(max(counts))}


def write_curve(history: list[dict], path: str | Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["step", "loss", "ce", "kl", "lr"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
