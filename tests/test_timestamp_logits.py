"""The vectorised timestamp rules give transformers' scores and tokens exactly."""

import pytest
import torch
from transformers import GenerationConfig, WhisperForConditionalGeneration
from transformers.generation.logits_process import WhisperTimeStampLogitsProcessor

from udistil.labels.timestamp_logits import TimestampWhisper, VectorisedTimestamps

EOS, NO_TS, VOCAB = 20, 29, 60  # text below 20; 20-29 specials; 30-59 timestamps (as Whisper's layout, smaller)
NO_TS_BASE = 50363  # whisper-base's <|notimestamps|>; its timestamps follow it


def config(max_initial: int | None) -> GenerationConfig:
    cfg = GenerationConfig(eos_token_id=EOS, bos_token_id=21, no_timestamps_token_id=NO_TS)
    cfg.max_initial_timestamp_index = max_initial
    return cfg


def random_state(gen: torch.Generator, begin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of prompts of `begin` tokens, 0 to 8 generated tokens (timestamps half the time), and scores: random,
    some rows with -inf already, some leaning to timestamps so that their total outweighs every text token."""
    rows, length = int(torch.randint(1, 12, (1,), generator=gen)), int(torch.randint(0, 9, (1,), generator=gen))
    prompt = torch.randint(EOS, NO_TS, (rows, begin), generator=gen)
    text = torch.randint(0, EOS, (rows, length), generator=gen)
    stamps = torch.randint(NO_TS + 1, VOCAB, (rows, length), generator=gen)
    generated = torch.where(torch.rand(rows, length, generator=gen) < 0.5, stamps, text)
    scores = torch.randn(rows, VOCAB, generator=gen) * 2
    scores[:, NO_TS + 1:] += torch.rand(rows, 1, generator=gen) * 4
    scores[torch.rand(rows, VOCAB, generator=gen) < 0.05] = -float("inf")
    return torch.cat([prompt, generated], 1), scores


@pytest.mark.parametrize("max_initial", [None, 0, 3])
@pytest.mark.parametrize("begin", [1, 3])
def test_scores_equal_transformers_over_random_states(begin, max_initial):
    gen = torch.Generator().manual_seed(begin * 10 + (max_initial or 0))
    theirs = WhisperTimeStampLogitsProcessor(config(max_initial), begin_index=begin)
    ours = VectorisedTimestamps(config(max_initial), begin_index=begin)
    seen = {"pair": 0, "open": 0, "first": 0, "forced": 0}
    for _ in range(400):
        ids, scores = random_state(gen, begin)
        ref, got = theirs(ids, scores), ours(ids, scores)
        assert torch.equal(got, ref) and torch.equal(got == -float("inf"), ref == -float("inf"))
        assert torch.equal(scores, scores.clone())  # the input is left as it was
        tail = ids[:, begin:] > NO_TS
        if tail.shape[1] >= 2:
            seen["pair"] += int((tail[:, -1] & tail[:, -2]).sum())
            seen["open"] += int((tail[:, -1] & ~tail[:, -2]).sum())
        seen["first"] += ids.shape[1] == begin
        seen["forced"] += int(torch.isinf(ref[:, :NO_TS + 1]).all(-1).sum())
    assert min(seen.values()) > 10, seen  # every rule was exercised


def test_a_later_begin_index_is_followed():
    gen = torch.Generator().manual_seed(5)
    theirs, ours = (cls(config(1), begin_index=2) for cls in (WhisperTimeStampLogitsProcessor, VectorisedTimestamps))
    for proc in (theirs, ours):
        proc.set_begin_index(4)  # as long-form generation does for each window
    for _ in range(50):
        ids, scores = random_state(gen, 4)
        assert torch.equal(ours(ids, scores), theirs(ids, scores))


def test_whisper_base_decodes_the_same_tokens_with_timestamps(whisper_base, monkeypatch):
    """Real whisper-base decoding of espeak clips with return_timestamps=True: the same sequences, timestamps
    included, and the vectorised rules were the ones applied."""
    from transformers import AutoFeatureExtractor

    from udistil.corpora.sentences import SentenceGenerator
    from udistil.corpora.tts import synthesize

    gen = SentenceGenerator(3)
    audios = [synthesize(gen.sentence(), "en-us", rate=r) for r in (150, 170, 190, 210)]
    features = AutoFeatureExtractor.from_pretrained(whisper_base)(audios, sampling_rate=16000,
                                                                   return_tensors="pt").input_features
    calls = []
    call = VectorisedTimestamps.__call__
    monkeypatch.setattr(VectorisedTimestamps, "__call__", lambda self, i, s: calls.append(1) or call(self, i, s))
    kw = {"language": "en", "task": "transcribe", "return_timestamps": True, "max_new_tokens": 60}
    with torch.inference_mode():
        ref = WhisperForConditionalGeneration.from_pretrained(whisper_base).eval().generate(features, **kw)
        assert not calls
        got = TimestampWhisper.from_pretrained(whisper_base).eval().generate(features, **kw)
    assert calls and torch.equal(got, ref)
    assert ((ref > NO_TS_BASE) & (ref < 51865)).sum() >= 2 * len(audios)  # timestamps were decoded
