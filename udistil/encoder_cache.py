"""Whisper encoder states computed once per clip and reused wherever the encoder weights are the same.

A state is keyed by a hash of the encoder's weights and a hash of the clip's samples, so pseudo-labelling,
the distillation of every student that keeps the teacher's frozen encoder, and the evaluation of such
students all read the same files. Each state is an .npy file written atomically; several jobs can share
the folder. `mode: auto` turns the cache off when the states of the job's clips would not fit the budget
(e.g. 100K clips of large-v2: 1500 x 1280 floats each).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from udistil.io import atomic_path

log = logging.getLogger(__name__)

ENCODER_FRAMES = 1500  # Whisper's 30 s window after the stride-2 convolution


def weights_hash(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes and bytes)."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def audio_hash(audio: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


class Encoder:
    """A Whisper encoder with its feature extractor: 16 kHz clips to states, read from a cache where on."""

    def __init__(self, model: torch.nn.Module, feature_extractor: Any, device: torch.device, dtype: torch.dtype,
                 cache: EncoderCache | None = None):
        self.model, self.fe, self.device, self.dtype, self.cache = model, feature_extractor, device, dtype, cache
        self.passes = 0

    def features(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        out = self.fe(list(audios), sampling_rate=16000, return_tensors="pt")
        key = "input_features" if "input_features" in out else next(iter(out))
        return out[key].to(self.device, self.dtype)

    @torch.no_grad()  # not inference_mode: distillation feeds these states into autograd
    def run(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        """One encoder forward pass over the clips (counted)."""
        self.passes += len(audios)
        return self.model.get_encoder()(self.features(audios)).last_hidden_state

    def __call__(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        if self.cache is not None:
            return self.cache.get_or_compute(self, audios)
        return self.run(audios)


class EncoderCache:
    """Encoder states on disk under `root/<encoder hash>/<audio hash>.npy`."""

    def __init__(self, root: str | Path, encoder: torch.nn.Module):
        self.encoder_hash = weights_hash(encoder)[:20]
        self.dir = Path(root) / self.encoder_hash
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def path(self, audio: np.ndarray) -> Path:
        return self.dir / f"{audio_hash(audio)}.npy"

    def get_or_compute(self, encoder: Encoder, audios: Sequence[np.ndarray]) -> torch.Tensor:
        """States for a batch: cached ones are read, the rest computed in one encoder pass and stored."""
        paths = [self.path(a) for a in audios]
        states: list[torch.Tensor | None] = [None] * len(audios)
        missing = []
        for i, p in enumerate(paths):
            if p.exists():
                states[i] = torch.from_numpy(np.load(p))
            else:
                missing.append(i)
        self.hits += len(audios) - len(missing)
        self.misses += len(missing)
        if missing:
            computed = encoder.run([audios[i] for i in missing])
            for j, i in enumerate(missing):
                state = computed[j].detach().to("cpu", torch.float32)
                with atomic_path(paths[i], suffix=".npy") as tmp:
                    np.save(tmp, state.numpy())
                states[i] = state
        return torch.stack(states).to(encoder.device, encoder.dtype)


def state_bytes(n_clips: int, d_model: int) -> int:
    return n_clips * ENCODER_FRAMES * d_model * 4


def make_cache(cfg: dict[str, Any] | None, model: torch.nn.Module, n_clips: int) -> EncoderCache | None:
    """The cache for a job, or None when it is off (mode `off`, or `auto` and over the disk budget)."""
    cfg = cfg or {}
    mode = cfg.get("mode", "auto")
    if mode == "off" or getattr(model.config, "model_type", "") != "whisper":
        return None
    need = state_bytes(n_clips, model.config.d_model)
    budget = float(cfg.get("max_gb", 8)) * 2**30
    if mode == "auto" and need > budget:
        log.info("encoder cache off: %d clips need %.1f GB, budget %.1f GB", n_clips, need / 2**30, budget / 2**30)
        return None
    root = cfg.get("dir", "results/cache/encoder")
    cache = EncoderCache(root, model.get_encoder())
    log.info("encoder cache on: %s (%d clips, up to %.2f GB)", cache.dir, n_clips, need / 2**30)
    return cache


def cache_dir_size(root: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(root).rglob("*.npy")) if os.path.isdir(root) else 0
