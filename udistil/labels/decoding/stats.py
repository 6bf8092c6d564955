"""Token statistics of a generation: the chosen tokens' mean log-probability, mean probability (`conf`) and the
mean entropy of the distributions, per sequence; and the compression ratio of a text (Whisper's loop signal).

From every step's logits (`token_stats`, `stats_from_logits`) or gathered step by step during a greedy
`generate` (`StepStats`); both reduce the same (B, T) numbers the same way, so they agree bit for bit.
"""

from __future__ import annotations

import gzip
from typing import Any

import torch


def compression_ratio(text: str) -> float:
    """Bytes over gzip bytes, Whisper's signal of repetitive (looping) output."""
    raw = text.encode("utf-8")
    return len(raw) / len(gzip.compress(raw)) if raw else 0.0


def step_stats(logits: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The chosen tokens' log-probabilities and the entropies of the distributions, over the last dimension.

    `logits` (..., V) are raw logits, `tokens` (...) the tokens chosen there."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    chosen = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return chosen, -row_sums(logp.exp() * logp)


def row_sums(x: torch.Tensor) -> torch.Tensor:
    """Sums over the last dimension, each row summed whole by one thread, so that a row's sum never depends on
    the rows beside it: a CPU torch sums a lone row in pieces on several threads, which rounds differently
    (a lone row is summed here as one of two identical rows: `expand` copies nothing)."""
    flat = x.reshape(-1, x.shape[-1])
    if flat.shape[0] == 1:
        return flat.expand(2, -1).sum(-1)[:1].reshape(x.shape[:-1])
    return x.sum(-1)


def masked_means(chosen: torch.Tensor, entropy: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per row of (B, T) steps, the means over the masked steps of the log-probability, probability and entropy."""
    m = mask.float()
    n = m.sum(-1).clamp(min=1)
    return {"mean_logprob": (chosen * m).sum(-1) / n, "conf": (chosen.exp() * m).sum(-1) / n,
            "entropy": (entropy * m).sum(-1) / n}


def output_mask(generated: torch.Tensor, eos: int, pad: int) -> torch.Tensor:
    """Which generated steps (B, T) belong to the output: those up to and including the first end token."""
    is_end = generated == eos
    after_end = torch.cumsum(is_end.int(), dim=1) - is_end.int() > 0
    return ~after_end & ((generated != pad) | is_end)


def token_stats(logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean log-probability, probability and entropy of the chosen tokens, per row.

    `logits` (B, T, V) are the model's raw logits at each generated step, `tokens` (B, T) the tokens
    chosen there, `mask` (B, T) which steps belong to the output (text tokens and the end token).
    """
    return masked_means(*step_stats(logits, tokens), mask)


def stats_from_logits(out: Any, *, eos: int, pad: int) -> dict[str, torch.Tensor]:
    """The statistics from every step's logits of `generate`'s output (`output_logits`), the winning beam's steps
    with beams (where the logits are still one row per beam)."""
    logits = torch.stack(out.logits, dim=1)  # (B*beams, T, V): one entry per generated step
    steps = logits.shape[1]
    generated = out.sequences[:, -steps:]
    if getattr(out, "beam_indices", None) is not None and logits.shape[0] != generated.shape[0]:
        idx = out.beam_indices[:, :steps].clamp(min=0)
        logits = logits[idx, torch.arange(steps, device=logits.device).expand_as(idx)]
    return token_stats(logits, generated, output_mask(generated, eos, pad))


class StepStats:
    """The token statistics of a greedy `generate`, gathered step by step instead of from every step's logits.

    A forward hook on the output layer keeps the newest step's raw logits (what `output_logits` returns: the last
    position, before any logits processor). Passed as a stopping criterion, which `generate` calls once the step's
    token is appended, it reduces them to the chosen token's log-probability and the step's entropy, B numbers
    each, and lets them go. Only greedy search: beams reorder their histories (see
    `GenerativeDecoder.on_the_fly`).
    """

    def __init__(self, head: torch.nn.Module):
        self.logits: torch.Tensor | None = None
        self.tokens: list[torch.Tensor] = []
        self.chosen: list[torch.Tensor] = []
        self.entropy: list[torch.Tensor] = []
        self._hook = head.register_forward_hook(self._keep)

    def _keep(self, module: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
        self.logits = output[:, -1]

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        if self.logits is None:
            raise RuntimeError("StepStats: a generation step ran without the output layer")
        tokens = input_ids[:, -1].clone()  # generate may reuse its buffer
        chosen, entropy = step_stats(self.logits, tokens)
        self.tokens.append(tokens)
        self.chosen.append(chosen)
        self.entropy.append(entropy)
        self.logits = None
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def close(self) -> None:
        self._hook.remove()

    def means(self, *, eos: int, pad: int) -> dict[str, torch.Tensor]:
        """`token_stats` of the steps seen, with the same mask and the same (B, T) reductions."""
        tokens = torch.stack(self.tokens, dim=1)
        return masked_means(torch.stack(self.chosen, dim=1), torch.stack(self.entropy, dim=1),
                            output_mask(tokens, eos, pad))
