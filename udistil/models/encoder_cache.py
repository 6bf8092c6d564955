"""Whisper encoder states computed once per clip and reused wherever the encoder weights are the same.

A state is keyed by a hash of the encoder's weights and a hash of the clip's samples, so pseudo-labelling,
the distillation of every student that keeps the teacher's frozen encoder, and the evaluation of such
students all read the same files. Each state is an .npy file written atomically; several jobs can share
the folder. `mode: auto` turns the cache off when the states of the job's clips would not fit the budget
(e.g. 100K clips of large-v2: 1500 x 1280 floats each).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from udistil.common.fileio import atomic_path

log = logging.getLogger(__name__)

ENCODER_FRAMES = 1500  # Whisper's 30 s window after the stride-2 convolution


def weights_hash(module: torch.nn.Module, exclude: str | None = None) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes and bytes), leaving out the names
    that start with `exclude`."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        if exclude and name.startswith(exclude):
            continue
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def audio_hash(audio: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


def featurize(feature_extractor: Any, audios: Sequence[np.ndarray]) -> torch.Tensor:
    """The model's input features of 16 kHz clips, on the CPU (run by DataLoader workers too)."""
    out = feature_extractor(list(audios), sampling_rate=16000, return_tensors="pt")
    return out["input_features" if "input_features" in out else next(iter(out))]


def to_device(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """`tensor` on `device` in `dtype`; to a GPU through page-locked memory, so that the copy does not hold up the
    host (a stack of features that workers pinned one batch at a time is a new tensor, in pageable memory)."""
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, dtype, non_blocking=True)


class Encoder:
    """A Whisper encoder with its feature extractor: 16 kHz clips to states, read from a cache where on.

    Features computed ahead for the current batch (by DataLoader workers) are handed over with
    `use_features` and found by the clip array's identity; any other clip is featurised here. Features go in as
    `dtype` (the model's); states come out as `states_dtype` (default: the same)."""

    def __init__(self, model: torch.nn.Module, feature_extractor: Any, device: torch.device, dtype: torch.dtype,
                 cache: EncoderCache | None = None, states_dtype: torch.dtype | None = None):
        self.model, self.fe, self.device, self.dtype, self.cache = model, feature_extractor, device, dtype, cache
        self.states_dtype = states_dtype or dtype
        self.passes = 0
        self.ready: dict[int, torch.Tensor] = {}

    def use_features(self, audios: Sequence[np.ndarray], features: Sequence[torch.Tensor]) -> None:
        """Features computed ahead for these clips (replacing the previous batch's)."""
        self.ready = {id(a): f for a, f in zip(audios, features, strict=True)}

    def features(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        if audios and all(id(a) in self.ready for a in audios):
            return to_device(torch.stack([self.ready[id(a)] for a in audios]), self.device, self.dtype)
        return featurize(self.fe, audios).to(self.device, self.dtype)

    @torch.no_grad()  # not inference_mode: distillation feeds these states into autograd
    def run(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        """One encoder forward pass per clip (counted): batched on a GPU; on a CPU one clip at a time, which is
        faster there (the 1500-frame attention stays in cache) and makes a clip's states independent of the
        batch it came in."""
        self.passes += len(audios)
        step = len(audios) if self.device.type == "cuda" else 1
        encoder = self.model.get_encoder()
        return torch.cat([encoder(self.features(audios[i:i + step])).last_hidden_state
                          for i in range(0, len(audios), step)]).to(self.states_dtype)

    def __call__(self, audios: Sequence[np.ndarray], keys: Sequence[str] | None = None) -> torch.Tensor:
        """States of the clips; `keys` are their `audio_hash`es where the caller already has them."""
        if self.cache is not None:
            return self.cache.get_or_compute(self, audios, keys)
        return self.run(audios)


class NpyStore:
    """Content-addressed arrays under `root/<namespace>/<key>.npy`, written atomically, shared by jobs.

    Every computed array is also recorded in a ledger (`computed.log`, one appended line per computation: key, byte
    size and sha1 of the file, atomic for lines this short), so a job can count how often a key was computed across
    the pipeline, and an entry that is not byte for byte one that was computed (truncated, overwritten, flipped) is
    caught. An entry that cannot be read, does not match the ledger, or has the wrong shape is reported with its
    file and treated as missing: the caller recomputes it and `save` rewrites it.
    """

    def __init__(self, root: str | Path, namespace: str):
        self.dir = Path(root) / namespace
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ledger = self.dir / "computed.log"
        self._recorded: dict[str, set[tuple[int, str]]] = {}  # key -> (size, sha1) of each recorded computation
        self._read_to = 0  # ledger bytes parsed so far (other jobs append while this one runs)

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.npy"

    def load(self, key: str, shape: tuple[int, ...] | None = None) -> np.ndarray | None:
        """The stored array, or None when there is none or it is damaged (a warning names the file)."""
        p = self.path(key)
        if not p.exists():
            return None
        data = p.read_bytes()
        problem = self._check(key, data)
        if problem is None:
            try:
                array = np.load(io.BytesIO(data), allow_pickle=False)
            except (ValueError, OSError, EOFError) as err:
                problem = f"unreadable ({err})"
            else:
                if shape is not None and array.shape != tuple(shape):
                    problem = f"shape {array.shape}, expected {tuple(shape)}"
                else:
                    return array
        log.warning("%s: damaged cache entry (%s); recomputing and rewriting it", p, problem)
        return None

    def _check(self, key: str, data: bytes) -> str | None:
        """Why `data` is not a recorded computation of `key`, or None (also for entries of older ledgers, which
        recorded no size or checksum: those are only checked by reading them)."""
        entry = (len(data), hashlib.sha1(data).hexdigest())
        recorded = self._records(key)
        if entry not in recorded:  # perhaps recomputed by another job since this one last read the ledger
            recorded = self._records(key, refresh=True)
        if not recorded or entry in recorded:
            return None
        sizes = sorted({size for size, _ in recorded if size >= 0})
        if sizes and len(data) not in sizes:
            return f"{len(data)} bytes, the ledger says {' or '.join(map(str, sizes))}"
        return "checksum differs from the ledger's" if sizes else None

    def _records(self, key: str, refresh: bool = False) -> set[tuple[int, str]]:
        """The recorded (size, sha1) of `key`, reading the lines appended to the ledger since the last read when the
        key is not known yet or on `refresh`."""
        if (refresh or key not in self._recorded) and self.ledger.exists():
            with open(self.ledger, "rb") as f:
                f.seek(self._read_to)
                new = f.read()
            complete = new[:new.rfind(b"\n") + 1]  # a line being appended right now is read next time
            self._read_to += len(complete)
            for k, *rest in (line.split() for line in complete.decode().splitlines() if line.strip()):
                self._recorded.setdefault(k, set()).add((int(rest[0]), rest[1]) if len(rest) == 2 else (-1, ""))
        return self._recorded.get(key, set())

    def save(self, key: str, array: np.ndarray) -> None:
        """Record the computation (with the file's size and checksum), then store its result: a kill between the
        two never undercounts passes."""
        buf = io.BytesIO()
        np.save(buf, array)
        data = buf.getvalue()
        with open(self.ledger, "a") as f:
            f.write(f"{key} {len(data)} {hashlib.sha1(data).hexdigest()}\n")
        with atomic_path(self.path(key), suffix=".npy") as tmp:
            tmp.write_bytes(data)

    def computed(self, keys: Sequence[str]) -> list[int]:
        """How many times each key was computed by any job that shared this store."""
        counts: dict[str, int] = {}
        if self.ledger.exists():
            for line in self.ledger.read_text().splitlines():
                key = line.split(maxsplit=1)[0] if line.strip() else None
                if key:
                    counts[key] = counts.get(key, 0) + 1
        return [counts.get(k, 0) for k in keys]


class EncoderCache:
    """Encoder states on disk under `root/<encoder hash>/<audio hash>.npy`."""

    def __init__(self, root: str | Path, encoder: torch.nn.Module):
        self.encoder_hash = weights_hash(encoder)[:20]
        self.store = NpyStore(root, self.encoder_hash)
        self.dir = self.store.dir
        self.shape = (encoder.config.max_source_positions, encoder.config.d_model)  # one clip's states

    def get_or_compute(self, encoder: Encoder, audios: Sequence[np.ndarray], keys: Sequence[str] | None = None
                       ) -> torch.Tensor:
        """States for a batch: cached ones are read, the rest computed in one encoder pass and stored."""
        keys = keys or [audio_hash(a) for a in audios]
        states: list[torch.Tensor | None] = [None] * len(audios)
        missing = []
        for i, key in enumerate(keys):
            found = self.store.load(key, self.shape)
            if found is None:
                missing.append(i)
            else:
                states[i] = torch.from_numpy(found)
        if missing:
            computed = encoder.run([audios[i] for i in missing])
            for j, i in enumerate(missing):
                state = computed[j].detach().to("cpu", torch.float32)
                self.store.save(keys[i], state.numpy())
                states[i] = state
        return torch.stack(states).to(encoder.device, encoder.states_dtype)

    def passes_per_clip(self, keys: Sequence[str]) -> list[int]:
        """Encoder forward passes each clip (by `audio_hash`) has had, over every job that shared this cache."""
        return self.store.computed(keys)


def state_bytes(n_clips: int, d_model: int) -> int:
    return n_clips * ENCODER_FRAMES * d_model * 4


def cache_budget(cfg: dict[str, Any], need_bytes: int, what: str) -> bool:
    """Whether a cache is on (config `encoder_cache`): mode `on`, or `auto` with `need_bytes` within `max_gb`."""
    mode = cfg["mode"]
    budget = float(cfg["max_gb"]) * 2**30
    if mode == "off" or (mode == "auto" and need_bytes > budget):
        log.info("%s cache off (mode %s; needs %.2f GB, budget %.1f GB)", what, mode, need_bytes / 2**30,
                 budget / 2**30)
        return False
    log.info("%s cache on: up to %.2f GB", what, need_bytes / 2**30)
    return True


def make_cache(*, cfg: dict[str, Any], model: torch.nn.Module, n_clips: int) -> EncoderCache | None:
    """The cache for a job, or None when it is off (mode `off`, or `auto` and over the disk budget)."""
    if getattr(model.config, "model_type", "") != "whisper":
        return None
    if not cache_budget(cfg, state_bytes(n_clips, model.config.d_model), f"encoder ({n_clips} clips)"):
        return None
    cache = EncoderCache(cfg["dir"], model.get_encoder())
    log.info("encoder cache: %s", cache.dir)
    return cache

