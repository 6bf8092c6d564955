"""Timestamp pseudo-labels in training: kept with `timestamp_probability`, else stripped behind <|notimestamps|>."""

from types import SimpleNamespace

import numpy as np
import pytest

STAMPED = "<|0.00|> Hello world.<|1.00|><|1.00|> Bye.<|2.00|>"


@pytest.fixture
def labels(tiny_random_whisper):
    from transformers import WhisperTokenizer

    from udistil.distill.labels import LabelBuilder

    tok = WhisperTokenizer.from_pretrained(tiny_random_whisper)
    cfg = SimpleNamespace(language="en", task="transcribe", timestamp_probability=0.2,
                          condition_on_prev_probability=0.0, max_label_length=225)
    return LabelBuilder(tok, cfg), tok


def ids(tok, *tokens):
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def test_exact_sequences_kept_and_stripped(labels):
    builder, tok = labels
    sot = ids(tok, "<|startoftranscript|>", "<|en|>", "<|transcribe|>")
    words = tok(" Hello world.", add_special_tokens=False).input_ids
    bye = tok(" Bye.", add_special_tokens=False).input_ids
    eot = ids(tok, "<|endoftext|>")
    stamps = ids(tok, "<|0.00|>", "<|1.00|>", "<|2.00|>")
    assert stamps[0] == ids(tok, "<|notimestamps|>")[0] + 1  # real timestamp tokens, not split text
    kept = sot + [stamps[0]] + words + [stamps[1], stamps[1]] + bye + [stamps[2]] + eot
    stripped = sot + ids(tok, "<|notimestamps|>") + tok(" Hello world. Bye.", add_special_tokens=False).input_ids + eot

    builder.cfg.timestamp_probability = 1.0
    inputs, targets = builder.example(STAMPED, None, np.random.default_rng(0))
    assert inputs == kept[:-1] and targets == kept[1:]
    builder.cfg.timestamp_probability = 0.0
    inputs, targets = builder.example(STAMPED, None, np.random.default_rng(0))
    assert inputs == stripped[:-1] and targets == stripped[1:]
    # a pseudo-label without timestamps is always trained behind <|notimestamps|>, with no draw
    builder.cfg.timestamp_probability = 1.0
    rng = np.random.default_rng(0)
    inputs, targets = builder.example("Hello world. Bye.", None, rng)
    assert inputs == stripped[:-1] and rng.random() == np.random.default_rng(0).random()


def test_kept_fraction_follows_timestamp_probability(labels):
    builder, tok = labels
    rng = np.random.default_rng(1)
    ts = ids(tok, "<|0.00|>")[0]
    n = 4000
    kept = sum(ts in builder.example(STAMPED, None, rng)[0] for _ in range(n))
    assert abs(kept / n - 0.2) < 0.02  # binomial sd at n=4000: 0.006
    builder.cfg.timestamp_probability = 0.7
    kept = sum(ts in builder.example(STAMPED, None, rng)[0] for _ in range(n))
    assert abs(kept / n - 0.7) < 0.025


def test_previous_text_prompt_carries_no_timestamps(labels):
    builder, tok = labels
    builder.cfg.timestamp_probability, builder.cfg.condition_on_prev_probability = 1.0, 1.0
    inputs, targets = builder.example(STAMPED, "<|0.00|> Before.<|0.80|>", np.random.default_rng(0))
    prompt = ids(tok, "<|startofprev|>") + tok(" Before.", add_special_tokens=False).input_ids
    assert inputs[:len(prompt)] == prompt and all(t == -100 for t in targets[:len(prompt) - 1])
    assert builder.length(STAMPED) == 4 + len(tok(" Hello world. Bye.", add_special_tokens=False).input_ids) + 1
