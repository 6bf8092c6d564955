"""Encoder-decoder models decoded by transformers' `generate`: the shared generation settings (beams, a token
bound, the repetition guard), the hypotheses of its output and their token statistics."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from udistil.labels.decoding.base import DecodeOptions, Decoder, Hypothesis, Prepare
from udistil.labels.decoding.stats import StepStats, stats_from_logits
from udistil.models.encoder_cache import Encoder, featurize


class RepetitionGuard:
    """Stopping criterion: a sequence whose last tokens repeat one n-gram (n <= 8) 4 times in a row is done.

    Whisper's greedy decoding can loop on hard audio until `max_new_tokens`; in a batch, one looping clip
    keeps the whole batch decoding. The loop is cut after its fourth repetition (its text keeps them).
    """

    def __init__(self, repeats: int = 4, max_n: int = 8):
        self.repeats, self.max_n = repeats, max_n

    def __call__(self, input_ids: torch.Tensor, scores=None, **kwargs) -> torch.Tensor:
        # the whole sequence is checked: the prompt's special tokens never repeat, so they cannot trigger it
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for n in range(1, self.max_n + 1):
            span = n * self.repeats
            if input_ids.shape[1] < span:
                break
            tail = input_ids[:, -span:].reshape(input_ids.shape[0], self.repeats, n)
            done |= (tail == tail[:, :1]).all(dim=(1, 2))
        return done


class GenerativeDecoder(Decoder):
    """Batched `generate` from the clips' features (through `encoder`, which also holds the feature extractor),
    greedy or beam search; with `with_stats`, the token statistics of the same pass."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, encoder: Encoder, options: DecodeOptions):
        super().__init__(model, tokenizer, options, encoder.device, encoder.dtype)
        self.encoder = encoder

    @property
    def feature_extractor(self) -> Any:
        return self.encoder.fe

    @property
    def encoder_passes(self) -> int:
        return self.encoder.passes

    def features(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        return self.encoder.features(audios)

    def prefetch(self) -> Prepare | None:
        """With `loader_workers`, the workers featurise each batch as they read it."""
        return partial(featurize, self.feature_extractor) if self.options.loader_workers else None

    def use_features(self, batch: Sequence[np.ndarray], features: Sequence[torch.Tensor]) -> None:
        self.encoder.use_features(batch, features)

    def finish(self) -> None:
        self.encoder.ready = {}

    # ---- generation ---------------------------------------------------------------------------------------------

    @abstractmethod
    def inputs(self, batch: Sequence[np.ndarray]) -> dict[str, Any]:
        """`generate`'s model inputs for a batch."""

    @abstractmethod
    def generate_kwargs(self, stats: StepStats | None = None) -> dict[str, Any]:
        """`generate`'s settings: `shared_kwargs` and the family's own."""

    def shared_kwargs(self, stats: StepStats | None = None) -> dict[str, Any]:
        """The settings every family takes: beams, the token bound, n-gram blocking, the stopping criteria (the
        repetition guard, `stats`) and, for statistics from every step's logits, those logits."""
        from transformers import StoppingCriteriaList

        o = self.options
        kw: dict[str, Any] = {"num_beams": o.num_beams, "max_new_tokens": o.max_new_tokens}
        if o.no_repeat_ngram_size:
            kw["no_repeat_ngram_size"] = o.no_repeat_ngram_size
        criteria = ([RepetitionGuard()] if o.repetition_guard else []) + ([stats] if stats is not None else [])
        if criteria:
            kw["stopping_criteria"] = StoppingCriteriaList(criteria)
        if o.with_stats and stats is None:
            kw.update(return_dict_in_generate=True, output_logits=True)
        return kw

    def on_the_fly(self) -> bool:
        """Whether the token statistics are gathered during generation (`StepStats`): greedy search on a model
        with an output layer; otherwise they come from every step's logits (`output_logits`)."""
        return self.options.num_beams == 1 and self.model.get_output_embeddings() is not None

    def step_stats(self) -> StepStats | None:
        """A fresh `StepStats` hooked to the output layer when statistics are asked for and gathered on the fly."""
        if self.options.with_stats and self.on_the_fly():
            return StepStats(self.model.get_output_embeddings())
        return None

    @torch.inference_mode()
    def decode(self, batch: Sequence[np.ndarray]) -> list[Hypothesis]:
        inputs = self.inputs(batch)
        stats = self.step_stats()
        try:
            out = self.model.generate(**inputs, **self.generate_kwargs(stats))
        finally:
            if stats is not None:
                stats.close()
        return self.hypotheses(out, stats)

    # ---- hypotheses -------------------------------------------------------------------------------------------

    def texts(self, sequences: torch.Tensor) -> list[str]:
        return self.tokenizer.batch_decode(sequences, skip_special_tokens=True)

    def hypotheses(self, out: Any, stats: StepStats | None = None) -> list[Hypothesis]:
        """Hypotheses from `generate`'s output, with the token statistics from `stats` (gathered on the fly) or
        from the output's logits (with `with_stats` and no `stats`)."""
        sequences = out.sequences if self.options.with_stats and stats is None else out
        if isinstance(sequences, dict):
            sequences = sequences["sequences"]
        sequences = sequences.cpu()
        specials = set(self.tokenizer.all_special_ids)
        hyps = [Hypothesis.of(text, [t for t in seq if t not in specials])
                for seq, text in zip(sequences.tolist(), self.texts(sequences), strict=True)]
        if self.options.with_stats:
            eos, pad = self.end_tokens()
            means = stats.means(eos=eos, pad=pad) if stats is not None else stats_from_logits(out, eos=eos, pad=pad)
            columns = ("mean_logprob", "conf", "entropy")  # one transfer for the batch, not one per number
            rows = torch.stack([means[k] for k in columns], dim=1).cpu().tolist()
            for h, (mean_logprob, conf, entropy) in zip(hyps, rows, strict=True):
                h.mean_logprob, h.conf, h.entropy = mean_logprob, conf, entropy
        return hyps

    def end_tokens(self) -> tuple[int, int]:
        """The generation config's end token (the first, where it lists several) and padding token."""
        eos = self.model.generation_config.eos_token_id
        return (eos[0] if isinstance(eos, list) else eos), self.model.generation_config.pad_token_id
