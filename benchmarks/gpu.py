"""The paper's shapes on one GPU, random weights (whisper-large-v2's config, no download), bf16, side by side.

- the attention implementation the models run (SDPA expected);
- decoding: the Transcriber with token statistics against plain `generate`, the same encoder states, settings
  and tokens (`--tokens` new tokens each, the end token held off), at batch 16, 64 and 128: clips/s and ratio;
  both sides' tokens go through one normalisation (`text_ids`) before they are compared;
- pseudo-labelling as the paper runs it: timestamps on, batch 80, 225 new tokens, with transformers'
  `WhisperTimeStampLogitsProcessor` against udistil's vectorised one (`udistil.labels.timestamp_logits`);
- the encoder alone: clips/s;
- a 32-16 distillation step (trainable encoder, the authors' recipe) at `--distill-batch`, labels
  `--label-width` tokens wide (the paper's 225): the project's own `Trainer.step` (accelerate's bf16 autocast,
  teacher targets, clipping at 1.0, fused AdamW, the learning-rate schedule) with configs/paper.yaml's training
  settings; steps/s with and without gradient checkpointing, and for both MFU = the step's model FLOPs (counted
  once per clip at batch 1, without recomputation, times the batch) / (seconds per step x the card's dense bf16
  peak). A row that does not fit in memory (CUDA out of memory, or cuBLAS failing to allocate) is rerun at half
  the batch, and again, and says so;
- teacher targets for a batch: one forward pass for the batch against one per clip (the store left out).

    .venv/bin/python benchmarks/gpu.py [--tokens 48] [--distill-batch 32] [--label-width 225] [--steps 3]
    .venv/bin/python benchmarks/gpu.py --tiny   # the same code at toy shapes, on any device: a check of the script

Without a CUDA GPU (and without --tiny) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from common import ROOT, Replay, best_of

LARGE_V2 = {"d_model": 1280, "encoder_layers": 32, "decoder_layers": 32, "encoder_attention_heads": 20,
            "decoder_attention_heads": 20, "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120,
            "max_source_positions": 1500, "max_target_positions": 448, "num_mel_bins": 80}
TINY = {**LARGE_V2, "d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 2,
        "decoder_attention_heads": 2, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128}
PEAK_BF16 = [("H200", 989e12), ("H100 NVL", 835e12), ("H100 PCIe", 756e12), ("H100", 989e12)]
"""Dense bf16 tensor-core peaks (NVIDIA's data sheets, without sparsity), by a part of the device name."""


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--label-width", type=int, default=225,
                    help="decoder inputs of a distillation step (the paper's --max_label_length 225)")
    ap.add_argument("--distill-batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the device's dense bf16 peak for MFU (default: the data sheet's for a known GPU)")
    ap.add_argument("--tiny", action="store_true")
    return ap.parse_args()


def peak_flops(name: str) -> float | None:
    return next((peak for part, peak in PEAK_BF16 if part in name), None)


def build(shape: dict[str, int], *, decoder_layers: int, device: Any, dtype: Any, seed: int, cls=None):
    """A random Whisper of `shape` with `decoder_layers`, made on `device`, with the packaged multilingual tokenizer's
    generation config (as the converted checkpoints carry it); `cls`: the model class (default: transformers')."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from udistil.models.assets import PACKAGED_WHISPER, generation_config, package_file
    from udistil.models.specs import _tokenizer

    tok = _tokenizer("whisper-base", 51865)  # large-v2's vocabulary is base's
    end, start = tok.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = WhisperConfig(vocab_size=51865, pad_token_id=end, bos_token_id=end, eos_token_id=end,
                           decoder_start_token_id=start, suppress_tokens=None, begin_suppress_tokens=None,
                           **{**shape, "decoder_layers": decoder_layers})
    torch.manual_seed(seed)
    with torch.device(device):
        model = (cls or WhisperForConditionalGeneration)(config).to(dtype)
    ct2 = json.loads(package_file(*PACKAGED_WHISPER["whisper-base"].ct2_config).read_text())
    model.generation_config = generation_config(tok, ct2, config.max_target_positions)
    return model.eval(), tok


def noise(n: int, seconds: float = 10.0, seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32) for _ in range(n)]


def text_ids(seq: list[int], specials: set[int]) -> list[int]:
    """A sequence as both sides are compared: without the special ids (as the Transcriber keeps it; timestamps are
    not special, so they stay)."""
    return [t for t in seq if t not in specials]


def attention(*models) -> str:
    """The attention implementation of each model (transformers' `_attn_implementation`), SDPA expected."""
    found = sorted({m.config._attn_implementation for m in models})
    return ", ".join(found) + ("" if found == ["sdpa"] else "  (NOT SDPA)")


def decoding(model, tok, encoder, *, batch: int, tokens: int, sync) -> dict[str, Any]:
    """Transcriber (statistics on) against plain generate on one batch from the same states, best of 2."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from udistil.labels.decoding import DecodeOptions, Transcriber, WhisperDecoder

    def options(with_stats: bool) -> DecodeOptions:
        return DecodeOptions(language="en", task="transcribe", batch_size=batch, num_beams=1, max_new_tokens=tokens,
                             no_repeat_ngram_size=0, repetition_guard=False, return_timestamps=False, loader_workers=0,
                             with_stats=with_stats)

    model.generation_config.min_new_tokens = tokens  # random weights: hold the end token off, every clip decodes
    clips = noise(batch, seed=batch)                  # the same number of tokens
    with torch.inference_mode():
        states = encoder.run(clips)
    engine = Transcriber(WhisperDecoder(model, tok, encoder, options(True)))
    engine.decoder.encoder = Replay({id(clips[0]): states})
    kw = WhisperDecoder(model, tok, encoder, options(False)).generate_kwargs()
    specials = set(tok.all_special_ids)

    @torch.inference_mode()
    def plain() -> list[list[int]]:
        seqs = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=states), **kw)
        return [text_ids(s, specials) for s in seqs.tolist()]

    runs = {"plain": plain,
            "transcriber": lambda: [text_ids(h.token_ids, specials) for h in engine.transcribe(clips, desc="")]}
    best_of(runs, 1, sync)  # warm-up
    seconds, out = best_of(runs, 2, sync)
    return {"batch": batch, **{k: batch / s for k, s in seconds.items()},
            "ratio": seconds["plain"] / seconds["transcriber"], "same_tokens": out["plain"] == out["transcriber"],
            "tokens": sum(map(len, out["plain"])) / batch}


def pseudo_labelling(models: dict[str, Any], tok, encoder, *, batch: int, tokens: int, sync) -> dict[str, Any]:
    """Generation with timestamps (the paper's pseudo-labels), the same states through `models` (transformers'
    timestamp processor, and the vectorised one), best of 2: clips/s, ratio and whether the tokens are the same."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    specials = set(tok.all_special_ids)
    clips = noise(batch, seed=batch + 1)
    with torch.inference_mode():
        states = encoder.run(clips)
    kw = {"language": "en", "task": "transcribe", "return_timestamps": True, "max_new_tokens": tokens,
          "min_new_tokens": tokens, "num_beams": 1, "force_unique_generate_call": True}  # one window per clip

    def run(model) -> list[list[int]]:
        with torch.inference_mode():
            seqs = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=states), **kw)
        return [text_ids(s, specials) for s in seqs.tolist()]

    runs = {name: (lambda m=m: run(m)) for name, m in models.items()}
    best_of(runs, 1, sync)  # warm-up
    seconds, out = best_of(runs, 2, sync)
    first, second = models
    timestamps = sum(t > tok.convert_tokens_to_ids("<|notimestamps|>") for s in out[second] for t in s)
    return {"batch": batch, "tokens": tokens, **{k: batch / v for k, v in seconds.items()},
            "ratio": seconds[first] / seconds[second], "same_tokens": out[first] == out[second],
            "timestamps": timestamps / batch}


def encoder_speed(encoder, *, batch: int, sync) -> float:
    import torch

    feats = encoder.features(noise(batch))
    step = encoder.model.get_encoder()
    with torch.inference_mode():
        seconds, _ = best_of({"enc": lambda: step(feats).last_hidden_state}, 3, sync)
    return batch / seconds["enc"]


def distill_batch(batch: int, width: int, device, seed: int = 0):
    """Log-mel features of random clips, random decoder inputs `width` wide and their shifted labels."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    dec = torch.randint(0, 50000, (batch, width), generator=gen)
    labels = torch.cat([dec[:, 1:], torch.full((batch, 1), -100)], dim=1)
    feats = _feature_extractor()(noise(batch, seed=seed), sampling_rate=16000, return_tensors="pt").input_features
    return feats.to(device), dec.to(device), labels.to(device)


def _feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=80)


class OneMicroBatch:
    """Stands in for a run's micro-batches (`udistil.distill.batches.MicroBatches`): one micro-batch of `batch`
    random clips, labels `width` wide, made before timing and drawn at every step, its features computed ahead
    (as the loader workers of a GPU run hand them over)."""

    def __init__(self, batch: int, width: int, seed: int = 0):
        import torch

        from udistil.distill.batches import Schedule

        self.schedule = Schedule(n=batch, batch_size=batch, accum=1, processes=1, seed=seed)
        self.keys: dict[int, str] = {}
        self.paths: list[str] = []
        gen = torch.Generator().manual_seed(seed)
        dec = torch.randint(0, 50000, (batch, width), generator=gen)
        audios = noise(batch, seed=seed)
        feats = _feature_extractor()(audios, sampling_rate=16000, return_tensors="pt").input_features
        self.item = {"idx": list(range(batch)), "dec": dec, "audios": audios, "features": feats,
                     "labels": torch.cat([dec[:, 1:], torch.full((batch, 1), -100)], dim=1),
                     "lengths": [width] * batch, "keys": [f"clip{i}" for i in range(batch)]}

    def __getitem__(self, m: int) -> dict:
        return {**self.item, "m": m}


def train_settings(*, batch: int, width: int, checkpointing: bool, cuda: bool):
    """The paper's training settings (configs/paper.yaml: AdamW, constant LR after warm-up, clipping at 1.0, a
    trainable encoder) in one process at `batch`, labels up to `width` tokens, no caches."""
    from dataclasses import replace

    from udistil.config.validate import filled
    from udistil.distill import TrainConfig

    paper = filled(ROOT / "configs" / "paper.yaml")
    cfg = TrainConfig.from_config(paper, paper["seed"])
    return replace(cfg, batch_size=batch, grad_accum=1, global_batch_size=None, num_processes=1, max_label_length=width,
                   gradient_checkpointing=checkpointing, dataloader_workers=0, device="cuda" if cuda else "cpu",
                   precision="bf16" if cuda else "fp32", cache={**cfg.cache, "mode": "off"})


def out_of_memory(err: BaseException) -> bool:
    """A CUDA allocation that failed: torch's OutOfMemoryError, or cuBLAS failing to allocate its workspace."""
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and any(s in str(err) for s in ("CUBLAS_STATUS_ALLOC_FAILED", "out of memory")))


def free_memory() -> None:
    """Return cached GPU memory, once nothing holds the failed try's tensors (its traceback included)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def distillation(teacher, student, *, batch: int, width: int, steps: int, checkpointing: bool, device,
                 sync) -> dict[str, Any]:
    """Steps/s of the project's distillation step at `batch`, or at half of it (and so on) when that does not fit
    in GPU memory."""
    tried = batch
    while True:
        try:
            return {**distill_steps(teacher, student, batch=tried, width=width, steps=steps,
                                    checkpointing=checkpointing, device=device, sync=sync),
                    "asked_batch": batch}
        except (RuntimeError, MemoryError) as err:  # torch.cuda.OutOfMemoryError is a RuntimeError
            if not out_of_memory(err):
                raise
        free_memory()  # here, not in the except block: the traceback there still holds the failed try's tensors
        if tried == 1:
            return {"checkpointing": checkpointing, "oom": True, "asked_batch": batch}
        print(f"  (distillation step at batch {tried} {'with' if checkpointing else 'without'} checkpointing: "
              f"out of GPU memory; trying batch {tried // 2})", flush=True)
        tried //= 2


def distill_steps(teacher, student, *, batch: int, width: int, steps: int, checkpointing: bool, device, sync,
                  count_flops: bool = False) -> dict[str, Any]:
    """`steps` optimiser steps of `udistil.distill.train.Trainer` after a warm-up (the step a run takes: teacher
    encoder and targets, student forward and backward under accelerate's autocast, gradient clipping, fused AdamW,
    the learning-rate schedule): steps/s; with `count_flops`, one step's model FLOPs instead."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from udistil.distill.setup import make_accelerator, optimisation
    from udistil.distill.teacher_targets import TeacherTargets
    from udistil.distill.train import Trainer
    from udistil.models.encoder_cache import Encoder

    cfg = train_settings(batch=batch, width=width, checkpointing=checkpointing, cuda=device.type == "cuda")
    accelerator, device, _, _ = make_accelerator(cfg)
    if checkpointing:
        student.gradient_checkpointing_enable()
    student.config.use_cache = False
    student.train()
    fe = _feature_extractor()
    prepared = None
    try:
        prepared, optimizer, scheduler = accelerator.prepare(student, *optimisation(student, cfg, 10**6, device))
        trainer = Trainer(cfg=cfg, accelerator=accelerator, student=prepared, optimizer=optimizer,
                          scheduler=scheduler, t_encoder=Encoder(teacher, fe, device, teacher.dtype),
                          s_encoder=Encoder(student, fe, device, torch.float32), targets=TeacherTargets(teacher),
                          data=OneMicroBatch(batch, width), shared=False, frozen=False)
        if count_flops:
            with FlopCounterMode(display=False) as counter:
                trainer.step(0)
            return {"flops": counter.get_total_flops()}
        trainer.step(0)  # warm-up
        seconds, _ = best_of({"step": lambda: [trainer.step(i) for i in range(1, steps + 1)]}, 1, sync)
    finally:
        student.gradient_checkpointing_disable()
        student.zero_grad(set_to_none=True)
        if prepared is not None:
            accelerator.unwrap_model(prepared, keep_fp32_wrapper=False)  # autocast's forward wrapper removed
        accelerator.free_memory()  # the optimiser's states go with this try
    return {"checkpointing": checkpointing, "batch": batch, "steps_per_s": steps / seconds["step"]}


def flops_per_clip(teacher, student, *, width: int, device) -> float:
    """Model FLOPs of one distillation step per clip: counted at batch 1 without checkpointing (the matrix
    products, convolutions and attention that FlopCounterMode counts all grow linearly with the batch)."""
    return distill_steps(teacher, student, batch=1, width=width, steps=1, checkpointing=False, device=device,
                         sync=lambda: None, count_flops=True)["flops"]


def teacher_targets(teacher, encoder, *, batch: int, tokens: int, device, sync) -> dict[str, float]:
    """Targets of one batch (lengths spread over prompt + 1 .. prompt + tokens), batched against per clip."""
    import torch

    from udistil.distill.teacher_targets import TeacherTargets

    class NoStore:
        def load(self, key, shape=None):
            return None

        def save(self, key, array):
            pass

    _, dec, _ = distill_batch(batch, tokens + 4, device, seed=1)
    lengths = [5 + (i * tokens) // batch for i in range(batch)]
    keys = [f"clip{i}" for i in range(batch)]
    with torch.inference_mode():
        states = encoder.run(noise(batch, seed=1))
    targets = {mode: TeacherTargets(teacher, NoStore(), batched=mode == "batched") for mode in ("batched", "per clip")}
    runs = {mode: (lambda t=t: t(states, dec, lengths, keys)) for mode, t in targets.items()}
    best_of(runs, 1, sync)
    seconds, out = best_of(runs, 2, sync)
    diff = float((out["batched"] - out["per clip"]).abs().max())
    return {**{k: batch / s for k, s in seconds.items()}, "ratio": seconds["per clip"] / seconds["batched"],
            "diff": diff}


def report(name: str, rows: dict[str, Any], peak: float | None, args: argparse.Namespace) -> None:
    print(f"{name}; random weights at {'toy' if args.tiny else 'whisper-large-v2'} shapes; {args.tokens} new tokens")
    print(f"attention implementation: {rows['attention']}")
    print("decoding, Transcriber (statistics on) vs plain generate, same states and tokens:")
    for r in rows["decode"]:
        print(f"  batch {r['batch']:4d}: transcriber {r['transcriber']:7.1f} clips/s, plain {r['plain']:7.1f} clips/s, "
              f"ratio {r['ratio']:.2f}, {r['tokens']:.0f} tokens/clip, same tokens: {r['same_tokens']}")
    p = rows["pseudo"]
    print(f"pseudo-labelling with timestamps, batch {p['batch']}, {p['tokens']} new tokens: vectorised timestamp "
          f"processor {p['vectorised']:.1f} clips/s, transformers' {p['transformers']:.1f} clips/s, speed-up "
          f"{p['ratio']:.2f}, {p['timestamps']:.1f} timestamps/clip, same tokens: {p['same_tokens']}")
    print(f"encoder alone: {rows['encoder']:.1f} clips/s")
    print(f"distillation step (udistil's Trainer, the paper's settings), {rows['student']} student (trainable "
          f"encoder), batch {args.distill_batch}, labels {args.label_width} tokens wide:")
    per_clip = rows["flops_per_clip"]
    for r in rows["distill"]:
        label = "with checkpointing" if r["checkpointing"] else "without checkpointing"
        if r.get("oom"):
            print(f"  {label}: out of GPU memory even at batch 1")
            continue
        smaller = f" at batch {r['batch']} (batch {r['asked_batch']} did not fit)" if r["batch"] < r["asked_batch"] \
            else ""
        mfu = f"MFU {per_clip * r['batch'] * r['steps_per_s'] / peak:.1%}" if peak else "MFU n/a (peak unknown)"
        print(f"  {label}{smaller}: {r['steps_per_s']:.2f} steps/s, {mfu}")
    peak_text = f"{peak / 1e12:.0f} TFLOP/s" if peak else "unknown for this device"
    print(f"  model FLOPs per step: {per_clip * args.distill_batch / 1e12:.4f} TFLOP at batch {args.distill_batch}; "
          f"dense bf16 peak {peak_text}")
    t = rows["targets"]
    print(f"teacher targets, batch {args.distill_batch}: batched {t['batched']:.1f} clips/s, per clip "
          f"{t['per clip']:.1f} clips/s, ratio {t['ratio']:.2f}; max difference {t['diff']:.3g}")


def main() -> int:
    args = parse()
    import torch

    from udistil.labels.timestamp_logits import TimestampWhisper
    from udistil.models.encoder_cache import Encoder

    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        print("benchmarks/gpu.py: no CUDA GPU here, nothing measured (--tiny checks the script on this device)")
        return 0
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    pseudo = {"batch": 80, "tokens": 225}  # the paper's pseudo-labelling: batch 80, up to 225 tokens
    if args.tiny:
        args.tokens, args.distill_batch, args.steps = min(args.tokens, 4), min(args.distill_batch, 2), 1
        args.label_width = min(args.label_width, 8)
        pseudo = {"batch": 8, "tokens": 24}
    peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_flops(name) if cuda else None
    if peak is None and args.tiny:
        peak, name = 1e12, f"{name} (MFU against a nominal 1 TFLOP/s: a check of the arithmetic)"
    shape = TINY if args.tiny else LARGE_V2
    teacher, tok = build(shape, decoder_layers=shape["decoder_layers"], device=device, dtype=dtype, seed=0)
    encoder = Encoder(teacher, _feature_extractor(), device, dtype)
    sizes = (2, 4) if args.tiny else (16, 64, 128)
    rows: dict[str, Any] = {"decode": [decoding(teacher, tok, encoder, batch=b, tokens=args.tokens, sync=sync)
                                       for b in sizes]}
    fast, _ = build(shape, decoder_layers=shape["decoder_layers"], device=device, dtype=dtype, seed=0,
                    cls=TimestampWhisper)
    fast.load_state_dict(teacher.state_dict())
    rows["pseudo"] = pseudo_labelling({"transformers": teacher, "vectorised": fast}, tok, encoder, **pseudo, sync=sync)
    del fast
    rows["encoder"] = encoder_speed(encoder, batch=sizes[-1] // 2, sync=sync)
    rows["targets"] = teacher_targets(teacher, encoder, batch=args.distill_batch, tokens=args.tokens, device=device,
                                      sync=sync)
    student, _ = build(shape, decoder_layers=shape["decoder_layers"] // 2, device=device, dtype=torch.float32, seed=1)
    rows["student"] = f"{student.config.encoder_layers}-{student.config.decoder_layers}"
    rows["attention"] = attention(teacher, student)
    rows["flops_per_clip"] = flops_per_clip(teacher, student, width=args.label_width, device=device)
    rows["distill"] = [distillation(teacher, student, batch=args.distill_batch, width=args.label_width,
                                    steps=args.steps, checkpointing=c, device=device, sync=sync) for c in (False, True)]
    report(name, rows, peak, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
