"""One decoding engine for the teacher's pseudo-labels, the proxy's transcripts and every evaluation.

Batched, length-sorted generation for Whisper (and any transformers speech-to-text model, e.g. SeamlessM4T
v1 and v2), forced language and task, greedy or beam search, a `max_new_tokens` bound, an optional repetition
guard. Whisper's encoder runs here, not inside `generate`, so its states can be cached and reused
(see `udistil.encoder_cache`). With `with_stats`, the token statistics come from the same pass.
CTC models (wav2vec2, e.g. MMS) are transcribed by greedy CTC decoding, with the language adapter and
vocabulary of the configured language where the model has them. With `long_form`, Whisper decodes clips over
30 s sequentially, window after window (transformers' long-form generation), instead of their first window.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from udistil.clips import batches, clip_length
from udistil.encoder_cache import Encoder, featurize, make_cache
from udistil.timestamp_logits import TimestampWhisper

SEAMLESS_LANG = {"en": "eng", "ar": "arb", "fr": "fra", "de": "deu", "es": "spa", "sw": "swh"}
MMS_LANG = {"en": "eng", "ar": "ara", "fr": "fra", "de": "deu", "es": "spa", "sw": "swh"}
"""MMS adapter and vocabulary codes (ISO 639-3) of the config's `language`; another code is used as given."""
SEAMLESS_KINDS = ("seamless_m4t", "seamless_m4t_v2")
CTC_KINDS = ("wav2vec2",)
WINDOW_SAMPLES = 30 * 16000  # Whisper's 30 s input window


@dataclass(kw_only=True)
class DecodeOptions:
    """The config's `decoding` section with its `language` and `task` (no defaults here: the schema fills them)."""

    language: str | None
    task: str
    batch_size: int
    num_beams: int
    max_new_tokens: int
    no_repeat_ngram_size: int
    repetition_guard: bool
    return_timestamps: bool
    loader_workers: int  # DataLoader processes reading lazy clips ahead (0: one prefetch thread)
    with_stats: bool = False  # not a config key: pseudo-labelling asks for the token statistics
    long_form: bool = False  # not a `decoding` key: evaluation's `long_clips: sequential` sets it

    @classmethod
    def from_section(cls, decoding: dict[str, Any], **overrides: Any) -> DecodeOptions:
        """Options from a filled `decoding` section merged with `language` and `task` (the rules' `decoding`)."""
        return cls(**{**decoding, **overrides})


@dataclass
class Hypothesis:
    text: str
    n_tokens: int
    mean_logprob: float = float("nan")
    conf: float = float("nan")
    entropy: float = float("nan")
    compression_ratio: float = float("nan")
    token_ids: list[int] = field(default_factory=list)


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


def pick_device(device: str) -> torch.device:
    """The torch device for the config's `device`: `auto` picks CUDA when there is one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device: cuda requested but no CUDA device is available")
    return torch.device(device)


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bf16/fp16 on CUDA when configured; CPU always fp32 (bf16 is slower on CPU)."""
    if device.type != "cuda":
        return torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


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


class StepStats:
    """The token statistics of a greedy `generate`, gathered step by step instead of from every step's logits.

    A forward hook on the output layer keeps the newest step's raw logits (what `output_logits` returns: the last
    position, before any logits processor). Passed as a stopping criterion, which `generate` calls once the step's
    token is appended, it reduces them to the chosen token's log-probability and the step's entropy, B numbers
    each, and lets them go. Only greedy search: beams reorder their histories (see `Transcriber._on_the_fly`).
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


class Transcriber:
    """Load a speech-to-text model once and transcribe batches of 16 kHz clips."""

    def __init__(self, location: str, options: DecodeOptions, *, device: str, precision: str,
                 cache: dict[str, Any] | None):
        """`cache`: the config's `encoder_cache` section, or None for no encoder-state cache."""
        from transformers import AutoConfig, AutoFeatureExtractor, AutoTokenizer

        self.options = options
        self.device = pick_device(device)
        self.dtype = pick_dtype(precision, self.device)
        self.kind = AutoConfig.from_pretrained(location).model_type
        self.feature_extractor = AutoFeatureExtractor.from_pretrained(location)
        self.tokenizer = AutoTokenizer.from_pretrained(location)
        self.model = self._load(location)
        if self.kind in CTC_KINDS:
            self._set_language()
        self.model = self.model.to(self.device, self.dtype).eval()
        self.cache_cfg = cache
        self.encoder = Encoder(self.model, self.feature_extractor, self.device, self.dtype)
        self.decode_seconds = 0.0

    @classmethod
    def around(cls, model: torch.nn.Module, encoder: Encoder, tokenizer: Any, options: DecodeOptions) -> Transcriber:
        """A Transcriber around a Whisper model already in memory (distillation's validation) and its Encoder."""
        self = cls.__new__(cls)
        self.options, self.device, self.dtype, self.kind = options, encoder.device, encoder.dtype, "whisper"
        self.feature_extractor, self.tokenizer, self.model, self.encoder = encoder.fe, tokenizer, model, encoder
        self.cache_cfg, self.decode_seconds = None, 0.0
        return self

    @property
    def encoder_passes(self) -> int:
        return self.encoder.passes

    def _load(self, location: str):
        if self.kind == "whisper":  # h-gpu: TimestampWhisper = Whisper with the vectorised timestamp rules
            return TimestampWhisper.from_pretrained(location)
        if self.kind == "seamless_m4t_v2":
            from transformers import SeamlessM4Tv2ForSpeechToText

            return SeamlessM4Tv2ForSpeechToText.from_pretrained(location)
        if self.kind == "seamless_m4t":
            from transformers import SeamlessM4TForSpeechToText

            return SeamlessM4TForSpeechToText.from_pretrained(location)
        if self.kind in CTC_KINDS:
            from transformers import Wav2Vec2ForCTC

            return Wav2Vec2ForCTC.from_pretrained(location)
        from transformers import AutoModelForSpeechSeq2Seq

        return AutoModelForSpeechSeq2Seq.from_pretrained(location)

    @property
    def ctc_language(self) -> str | None:
        """The adapter and vocabulary code of the configured language (None: no language configured)."""
        lang = self.options.language
        return MMS_LANG.get(lang, lang) if lang else None

    def _set_language(self) -> None:
        """A CTC model with language adapters (MMS) loads the configured language's adapter, and a tokenizer
        with one vocabulary per language switches to that language's; a model without either is left as is."""
        code = self.ctc_language
        nested = isinstance(getattr(self.tokenizer, "vocab", None), dict) and all(
            isinstance(v, dict) for v in self.tokenizer.vocab.values())
        has_adapters = getattr(self.model.config, "adapter_attn_dim", None) is not None
        if code is None:
            if has_adapters or nested:
                raise ValueError("config key 'language': a CTC model with language adapters (MMS) needs one")
            return
        if nested:
            self.tokenizer.set_target_lang(code)
        if has_adapters:
            self.model.load_adapter(code)

    # ---- features and encoder --------------------------------------------------------------------------------

    def features(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        return self.encoder.features(audios)

    def _prepare(self) -> Callable[[list[np.ndarray]], torch.Tensor] | None:
        """With `loader_workers`, the workers featurise each batch as they read it (not CTC models, whose
        batches pad differently, nor long-form decoding, which featurises whole clips)."""
        if not self.options.loader_workers or self.kind in CTC_KINDS or self.options.long_form:
            return None
        return partial(featurize, self.feature_extractor)

    # ---- generation -------------------------------------------------------------------------------------------

    def _on_the_fly(self) -> bool:
        """Whether the token statistics are gathered during generation (`StepStats`): greedy search on a model
        with an output layer; otherwise they come from every step's logits (`output_logits`)."""
        return self.options.num_beams == 1 and self.model.get_output_embeddings() is not None

    def _step_stats(self) -> StepStats | None:
        """A fresh `StepStats` hooked to the output layer when statistics are asked for and gathered on the fly."""
        if self.options.with_stats and self.options.num_beams > 1 and self.kind == "whisper":
            raise ValueError("decoding: token statistics (pseudo-labels) need num_beams: 1 with Whisper "
                             "(transformers' Whisper returns no per-beam logits)")
        if self.options.with_stats and self._on_the_fly():
            return StepStats(self.model.get_output_embeddings())
        return None

    def _generate_kwargs(self, stats: StepStats | None = None) -> dict[str, Any]:
        o = self.options
        kw: dict[str, Any] = {"num_beams": o.num_beams, "max_new_tokens": o.max_new_tokens}
        if o.no_repeat_ngram_size:
            kw["no_repeat_ngram_size"] = o.no_repeat_ngram_size
        criteria = ([RepetitionGuard()] if o.repetition_guard else []) + ([stats] if stats is not None else [])
        if criteria:
            from transformers import StoppingCriteriaList

            kw["stopping_criteria"] = StoppingCriteriaList(criteria)
        if o.with_stats and stats is None:
            kw.update(return_dict_in_generate=True, output_logits=True)
        if self.kind == "whisper":
            if self.model.generation_config.is_multilingual and o.language:
                kw.update(language=o.language, task=o.task)
            kw["return_timestamps"] = o.return_timestamps
        elif self.kind in SEAMLESS_KINDS and o.language:
            kw["tgt_lang"] = SEAMLESS_LANG.get(o.language, o.language)
        return kw

    @torch.inference_mode()
    def _generate_batch(self, audios: Sequence[np.ndarray]) -> list[Hypothesis]:
        from transformers.modeling_outputs import BaseModelOutput

        if self.kind in CTC_KINDS:
            return self._ctc_batch(audios)
        if self.kind == "whisper" and self.options.long_form and max(len(a) for a in audios) > WINDOW_SAMPLES:
            return self._long_form_batch(audios, self._generate_kwargs())
        inputs = ({"encoder_outputs": BaseModelOutput(last_hidden_state=self.encoder(audios))}
                  if self.kind == "whisper" else {"input_features": self.features(audios)})
        stats = self._step_stats()
        try:
            out = self.model.generate(**inputs, **self._generate_kwargs(stats))
        finally:
            if stats is not None:
                stats.close()
        return self._hypotheses(out, stats)

    def _long_form_batch(self, audios: Sequence[np.ndarray], kw: dict[str, Any]) -> list[Hypothesis]:
        """transformers' sequential long-form generation: the whole clip's features (not cut at 30 s), decoded
        window after window with timestamps (which the long-form algorithm needs); the text is kept without
        them. The encoder runs inside `generate` here, so no state is cached or counted."""
        feats = self.feature_extractor(list(audios), sampling_rate=16000, return_tensors="pt", truncation=False,
                                       padding="longest", return_attention_mask=True)
        if feats["input_features"].shape[-1] < 3000:  # a batch shorter than one window: pad it to one
            feats = self.feature_extractor(list(audios), sampling_rate=16000, return_tensors="pt",
                                           return_attention_mask=True)
        kw = {**kw, "return_timestamps": True, "condition_on_prev_tokens": False}
        out = self.model.generate(input_features=feats["input_features"].to(self.device, self.dtype),
                                  attention_mask=feats["attention_mask"].to(self.device), **kw)
        sequences = out if isinstance(out, torch.Tensor) else out["sequences"]
        texts = self.tokenizer.batch_decode(sequences.cpu(), skip_special_tokens=True)
        hyps = []
        for seq, text in zip(sequences.cpu().tolist(), texts, strict=True):
            ids = [t for t in seq if t < self.tokenizer.eos_token_id]  # Whisper's text tokens precede its specials
            hyps.append(Hypothesis(text=text.strip(), n_tokens=len(ids), token_ids=ids,
                                   compression_ratio=compression_ratio(text.strip())))
        return hyps

    def _ctc_batch(self, audios: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Greedy CTC decoding: the most likely token per frame, repeats merged and blanks dropped."""
        feats = self.feature_extractor(list(audios), sampling_rate=16000, return_tensors="pt", padding=True,
                                       return_attention_mask=True)
        mask = feats.get("attention_mask")
        logits = self.model(feats["input_values"].to(self.device, self.dtype),
                            attention_mask=None if mask is None else mask.to(self.device)).logits
        best = logits.argmax(-1).cpu()
        if mask is not None:  # frames of padding decode to the blank
            frames = self.model._get_feat_extract_output_lengths(mask.sum(-1)).tolist()
            for i, n in enumerate(frames):
                best[i, int(n):] = self.tokenizer.pad_token_id
        texts = self.tokenizer.batch_decode(best)
        hyps = []
        for row, text in zip(best.tolist(), texts, strict=True):
            ids = [t for j, t in enumerate(row) if t != self.tokenizer.pad_token_id and (j == 0 or row[j - 1] != t)]
            hyps.append(Hypothesis(text=text.strip(), n_tokens=len(ids), token_ids=ids,
                                   compression_ratio=compression_ratio(text.strip())))
        return hyps

    def _hypotheses(self, out: Any, stats: StepStats | None = None) -> list[Hypothesis]:
        """Hypotheses from `generate`'s output, with the token statistics from `stats` (gathered on the fly) or
        from the output's logits (with `with_stats` and no `stats`)."""
        o = self.options
        sequences = out.sequences if o.with_stats and stats is None else out
        if isinstance(sequences, dict):
            sequences = sequences["sequences"]
        sequences = sequences.cpu()
        if o.return_timestamps:
            texts = [self.tokenizer.decode(s, skip_special_tokens=True, decode_with_timestamps=True) for s in sequences]
        else:
            texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        specials = set(self.tokenizer.all_special_ids)
        hyps = []
        for i, seq in enumerate(sequences.tolist()):
            text_ids = [t for t in seq if t not in specials]
            text = texts[i].strip()
            hyps.append(Hypothesis(text=text, n_tokens=len(text_ids), token_ids=text_ids,
                                   compression_ratio=compression_ratio(text)))
        if o.with_stats:
            self._attach_stats(self._stats_from(out, stats), hyps)
        return hyps

    def _end_tokens(self) -> tuple[int, int]:
        """The generation config's end token (the first, where it lists several) and padding token."""
        eos = self.model.generation_config.eos_token_id
        return (eos[0] if isinstance(eos, list) else eos), self.model.generation_config.pad_token_id

    def _stats_from(self, out: Any, stats: StepStats | None) -> dict[str, torch.Tensor]:
        eos, pad = self._end_tokens()
        if stats is not None:
            return stats.means(eos=eos, pad=pad)
        return self._stats_from_logits(out, eos=eos, pad=pad)

    @staticmethod
    def _stats_from_logits(out: Any, *, eos: int, pad: int) -> dict[str, torch.Tensor]:
        """The statistics from every step's logits (`output_logits`), the winning beam's steps with beams (where the
        logits are still one row per beam)."""
        logits = torch.stack(out.logits, dim=1)  # (B*beams, T, V): one entry per generated step
        steps = logits.shape[1]
        generated = out.sequences[:, -steps:]
        if getattr(out, "beam_indices", None) is not None and logits.shape[0] != generated.shape[0]:
            idx = out.beam_indices[:, :steps].clamp(min=0)
            logits = logits[idx, torch.arange(steps, device=logits.device).expand_as(idx)]
        return token_stats(logits, generated, output_mask(generated, eos, pad))

    @staticmethod
    def _attach_stats(stats: dict[str, torch.Tensor], hyps: list[Hypothesis]) -> None:
        for i, h in enumerate(hyps):
            h.mean_logprob = float(stats["mean_logprob"][i])
            h.conf = float(stats["conf"][i])
            h.entropy = float(stats["entropy"][i])

    def transcribe(self, audios: Sequence[np.ndarray], desc: str = "decode",
                   on_batch: Callable[[list[int], list[Hypothesis]], None] | None = None,
                   skip: set[int] | None = None) -> list[Hypothesis | None]:
        """Transcribe clips in length-sorted batches; results come back in input order.

        `audios` are clips in memory or lazy `udistil.clips.Clips`: those are sorted by their manifest duration
        and read batch by batch, a few batches ahead (`loader_workers`), so only a window of audio is held.
        `on_batch(indices, hypotheses)` is called after each batch (for flushing); indices in `skip` are
        not decoded (already done by an earlier, interrupted run) and come back as None.
        """
        skip = skip or set()
        if self.cache_cfg is not None and self.encoder.cache is None and self.kind == "whisper":
            self.encoder.cache = make_cache(cfg=self.cache_cfg, model=self.model, n_clips=len(audios))
        order = sorted((i for i in range(len(audios)) if i not in skip), key=lambda i: -clip_length(audios, i))
        results: list[Hypothesis | None] = [None] * len(audios)
        bs = self.options.batch_size
        start = time.perf_counter()
        with tqdm(total=len(order), desc=desc, unit="clip", mininterval=5) as bar:
            plan = [order[b:b + bs] for b in range(0, len(order), bs)]
            for idx, batch, features in batches(audios, plan, workers=self.options.loader_workers,
                                                prepare=self._prepare()):
                if features is not None:
                    self.encoder.use_features(batch, features)
                hyps = self._generate_batch(batch)
                for i, h in zip(idx, hyps, strict=True):
                    results[i] = h
                if on_batch:
                    on_batch(idx, hyps)
                bar.update(len(idx))
        self.encoder.ready = {}
        self.decode_seconds += time.perf_counter() - start
        return results
