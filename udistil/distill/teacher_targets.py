"""The frozen teacher's logits on a clip's decoder inputs (the KL targets of distillation), reused across steps,
epochs and students.

A target depends only on the teacher's weights, the clip's audio and the decoder input ids, so it is stored
under a hash of the three. With the store on, a CPU computes each target for one clip at a time, so its value
never depends on the batch it first came in (every student reads bit-identical targets whichever job computed
them); a GPU computes a batch's missing targets in one forward pass (its kernels depend on the batch shape
anyway: targets agree across batches within float tolerance, not bit for bit). With the store off (paper
scale: 100K clips x 51,865-way logits do not fit on disk) the batch is one teacher forward pass, as in
distil-whisper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

from udistil.models.encoder_cache import NpyStore, cache_budget, weights_hash

LOGIT_BYTES = 4  # float32 on disk


def target_key(audio_key: str, decoder_ids: Sequence[int]) -> str:
    return hashlib.sha1(f"{audio_key}:{','.join(map(str, decoder_ids))}".encode()).hexdigest()


class TeacherTargets:
    """Teacher logits for a batch of (encoder states, decoder ids), read from a store where it is on."""

    def __init__(self, model: torch.nn.Module, store: NpyStore | None = None, *, batched: bool | None = None):
        """`batched`: compute a batch's missing targets in one forward pass (None: on a GPU, not on a CPU)."""
        self.model, self.store, self.batched = model, store, batched
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
        keys = [target_key(audio_keys[i], decoder_ids[i, :n].tolist()) for i, n in enumerate(lengths)]
        vocab = self.model.config.vocab_size
        found = {i: self.store.load(key, (n, vocab)) for i, (key, n) in enumerate(zip(keys, lengths, strict=True))}
        first: dict[str, int] = {}  # a missing target is computed once, where it first appears in the batch
        for i, f in found.items():
            if f is None:
                first.setdefault(keys[i], i)
        computed = self._missing(states, decoder_ids, lengths, list(first.values()))
        for i, logits in computed.items():
            self.store.save(keys[i], logits.to("cpu", torch.float32).numpy())
        rows = [(torch.from_numpy(f) if f is not None else computed[first[keys[i]]]).to(states.device, torch.float32)
                for i, f in found.items()]
        out = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
        return torch.nn.functional.pad(out, (0, 0, 0, decoder_ids.shape[1] - out.shape[1]))

    def _missing(self, states: torch.Tensor, decoder_ids: torch.Tensor, lengths: Sequence[int],
                 missing: list[int]) -> dict[int, torch.Tensor]:
        """The (length, vocab) targets of the `missing` rows: one forward pass over them where batched (the
        decoder is causal, so a row's padding does not reach its positions), else one pass per clip."""
        self.forwards += len(missing)
        batched = states.device.type == "cuda" if self.batched is None else self.batched
        if not missing:
            return {}
        if not batched or len(missing) == 1:
            return {i: self._logits(states[i:i + 1], decoder_ids[i:i + 1, :lengths[i]])[0] for i in missing}
        width = max(lengths[i] for i in missing)
        logits = self._logits(states[missing], decoder_ids[missing, :width])
        return {i: logits[j, :lengths[i]] for j, i in enumerate(missing)}


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
