"""Whisper's timestamp rules for generation, for the whole batch at once.

transformers' `WhisperTimeStampLogitsProcessor` reads every row's tokens to the host (`input_ids.tolist()`) and
walks the rows in Python at every step: a device sync per step and Python work growing with batch x length. At
pseudo-labelling's batch 80 and 225 tokens that rivals the decoder itself on a GPU. `VectorisedTimestamps` applies
the same rules with tensor operations only, giving the same scores (tests/test_timestamp_logits.py), and
`TimestampWhisper` is a Whisper model whose `generate` uses it wherever transformers would use its own.

The rules (Whisper's): <|notimestamps|> is never sampled; timestamps come in pairs (after a single timestamp no
text, after a pair no timestamp); timestamps never decrease (nor repeat, except to close a pair); the first token is
a timestamp no later than `max_initial_timestamp_index`; and where the timestamps together are more likely than
any single text token, a timestamp is sampled.
"""

from __future__ import annotations

import torch
from transformers import WhisperForConditionalGeneration
from transformers.generation.logits_process import WhisperTimeStampLogitsProcessor


class VectorisedTimestamps(WhisperTimeStampLogitsProcessor):
    """`WhisperTimeStampLogitsProcessor` (same settings, same `set_begin_index`) without a per-row loop or a host
    sync: every row's state comes from comparisons over the generated tokens."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        out = scores.clone()
        out[:, self.no_timestamps_token_id] = -float("inf")
        begin = self.timestamp_begin
        generated = input_ids[:, self.begin_index:]
        is_ts = generated >= begin
        rows, length = is_ts.shape
        last = is_ts[:, -1] if length else torch.zeros(rows, dtype=torch.bool, device=scores.device)
        penultimate = is_ts[:, -2] if length >= 2 else torch.ones(rows, dtype=torch.bool, device=scores.device)
        out[:, begin:].masked_fill_((last & penultimate).unsqueeze(-1), -float("inf"))  # a pair: text next
        out[:, :self.eos_token_id].masked_fill_((last & ~penultimate).unsqueeze(-1), -float("inf"))  # close it
        out[:, begin:].masked_fill_(self._below_last_timestamp(generated, is_ts, last & ~penultimate,
                                                               out.shape[-1] - begin), -float("inf"))
        if input_ids.shape[1] == self.begin_index:  # the first token: a timestamp, not too late
            out[:, :begin] = -float("inf")
            if self.max_initial_timestamp_index is not None:
                out[:, begin + self.max_initial_timestamp_index + 1:] = -float("inf")
        if self._detect_timestamp_from_logprob:
            logprobs = torch.nn.functional.log_softmax(out.float(), dim=-1)
            timestamp_logprob = logprobs[:, begin:].logsumexp(dim=-1)
            max_text_logprob = logprobs[:, :begin].max(dim=-1).values
            out[:, :begin].masked_fill_((timestamp_logprob > max_text_logprob).unsqueeze(-1), -float("inf"))
        return out

    def _below_last_timestamp(self, generated: torch.Tensor, is_ts: torch.Tensor, open_pair: torch.Tensor,
                              n_timestamps: int) -> torch.Tensor:
        """(rows, timestamps): the timestamps each row may no longer emit, those below its last one (or up to it,
        save when closing a pair); none before a row's first timestamp. Only the timestamp columns are compared."""
        positions = torch.arange(generated.shape[1], device=generated.device)
        last_at = torch.where(is_ts, positions, -1).max(dim=-1).values if generated.shape[1] else None
        if last_at is None:
            floor = torch.full((generated.shape[0],), self.timestamp_begin, device=generated.device)
        else:
            last_ts = generated.gather(1, last_at.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            floor = torch.where(last_at < 0, self.timestamp_begin, last_ts + (~open_pair).long())
        timestamp_ids = torch.arange(self.timestamp_begin, self.timestamp_begin + n_timestamps, device=generated.device)
        return timestamp_ids < floor.unsqueeze(-1)


class TimestampWhisper(WhisperForConditionalGeneration):
    """Whisper whose `generate` applies the timestamp rules with `VectorisedTimestamps`: transformers builds its
    processor list in `_retrieve_logit_processors` (5.x), and each `WhisperTimeStampLogitsProcessor` there is
    swapped for the vectorised one with the same settings."""

    def _retrieve_logit_processors(self, generation_config, logits_processor, begin_index, num_beams, device):
        processors = super()._retrieve_logit_processors(generation_config, logits_processor, begin_index, num_beams,
                                                        device)
        return None if processors is None else [vectorised(p) for p in processors]


def vectorised(processor):
    """`VectorisedTimestamps` in place of a `WhisperTimeStampLogitsProcessor` (its state copied); any other
    processor as it is."""
    if type(processor) is not WhisperTimeStampLogitsProcessor:
        return processor
    fast = VectorisedTimestamps.__new__(VectorisedTimestamps)
    fast.__dict__.update(processor.__dict__)
    return fast
