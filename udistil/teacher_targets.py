"""The frozen teacher's logits on a clip's decoder inputs (the KL targets of distillation), reused across steps,
epochs and students.

A target depends only on the teacher's weights, the clip's audio and the decoder input ids, so it is stored
under a hash of the three. With the store on, each target is computed for one clip at a time, so its value
never depends on the batch it first came in (every student reads bit-identical targets whichever job computed
them). With the store off (paper scale: 100K clips x 51,865-way logits do not fit on disk) the batch is one
teacher forward pass, as in distil-whisper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

from udistil.encoder_cache import NpyStore, cache_budget, weights_hash

LOGIT_BYTES = 4  # float32 on disk


def target_key(audio_key: str, decoder_ids: Sequence[int]) -> str:
    return hashlib.sha1(f"{audio_key}:{','.join(map(str, decoder_ids))}".encode()).hexdigest()


class TeacherTargets:
    """Teacher logits for a batch of (encoder states, decoder ids), read from a store where it is on."""

    def __init__(self, model: torch.nn.Module, store: NpyStore | None = None):
        self.model, self.store = model, store
        self.forwards = 0  # clips the teacher decoder ran on in this process

    def _logits(self, states: torch.Tensor, decoder_ids: torch.Tensor) -> torch.Tensor:
        return self.model(encoder_outputs=(states,), decoder_input_ids=decoder_ids, use_cache=False).logits

    @torch.no_grad()
    def __call__(self, states: torch.Tensor, decoder_ids: torch.Tensor, lengths: Sequence[int],
                 audio_keys: Sequence[str]) -> torch.Tensor:
        """(batch, width, vocab) logits for right-padded `decoder_ids`; positions past a clip's length are 0
        when read from the store (they are never labels)."""
        if self.store is None:
            self.forwards += len(lengths)
            return self._logits(states, decoder_ids)
        rows = []
        for i, n in enumerate(lengths):
            ids = decoder_ids[i, :n]
            key = target_key(audio_keys[i], ids.tolist())
            found = self.store.load(key)
            if found is None:
                logits = self._logits(states[i:i + 1], ids[None])[0]
                self.store.save(key, logits.to("cpu", torch.float32).numpy())
                self.forwards += 1
            else:
                logits = torch.from_numpy(found)
            rows.append(logits.to(states.device, torch.float32))
        out = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
        return torch.nn.functional.pad(out, (0, 0, 0, decoder_ids.shape[1] - out.shape[1]))


def teacher_hash(model: torch.nn.Module, encoder_hash: str | None) -> str:
    """The teacher's weights as its encoder's hash (the encoder cache's, when the caller has it) plus a hash of
    the rest, so distillation hashes the encoder weights once."""
    encoder_hash = encoder_hash or weights_hash(model.get_encoder())[:20]
    rest = weights_hash(model, exclude="model.encoder.")
    return hashlib.sha256(f"{encoder_hash}:{rest}".encode()).hexdigest()[:20]


def make_targets(*, cfg: dict[str, Any], model: torch.nn.Module, label_tokens: int,
                 encoder_hash: str | None) -> TeacherTargets:
    """Targets with a store under `<encoder_cache.dir>/teacher-<teacher_hash>` when the cache is on,
    `teacher_targets` is true and `label_tokens` (decoder positions of the training set) fit the disk budget;
    `encoder_hash` is the teacher's encoder cache's, or None to compute it."""
    need = label_tokens * model.config.vocab_size * LOGIT_BYTES
    what = f"teacher-target ({label_tokens} label tokens)"
    if not cfg["teacher_targets"] or not cache_budget(cfg, need, what):
        return TeacherTargets(model)
    return TeacherTargets(model, NpyStore(cfg["dir"], f"teacher-{teacher_hash(model, encoder_hash)}"))
