import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import HostReads, decode_options
from udistil.common.fileio import write_wav
from udistil.corpora.manifest import Record, build_manifest
from udistil.labels.decoding import Transcriber
from udistil.labels.decoding.stats import compression_ratio


def noise_clips(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(int(16000 * (0.5 + 0.25 * i))) * 0.1).astype(np.float32) for i in range(n)]


def cpu(model, options) -> Transcriber:
    """A CPU Transcriber without an encoder cache."""
    return Transcriber.load(str(model), options, device="cpu", precision="fp32", cache=None)


def test_conf_and_entropy_match_direct_computation(tiny_random_whisper):
    t = cpu(tiny_random_whisper, decode_options(with_stats=True, max_new_tokens=6, batch_size=3))
    clips = noise_clips(3)
    hyps = t.transcribe(clips)
    model, eos = t.model, t.model.generation_config.eos_token_id
    tok = t.decoder.tokenizer
    prompt = [model.generation_config.decoder_start_token_id,
              tok.convert_tokens_to_ids("<|en|>"), tok.convert_tokens_to_ids("<|transcribe|>"),
              model.generation_config.no_timestamps_token_id]
    for clip, h in zip(clips, hyps, strict=True):
        steps = h.token_ids + ([eos] if h.n_tokens < 6 else [])
        dec = torch.tensor([prompt + steps[:-1]]) if steps else torch.tensor([prompt])
        with torch.no_grad():
            logits = model(input_features=t.decoder.features([clip]), decoder_input_ids=dec).logits[0, len(prompt) - 1:]
        logp = torch.log_softmax(logits, -1)
        chosen = logp[torch.arange(len(steps)), torch.tensor(steps)]
        assert h.conf == pytest.approx(chosen.exp().mean().item(), abs=1e-4)
        assert h.mean_logprob == pytest.approx(chosen.mean().item(), abs=1e-4)
        assert h.entropy == pytest.approx((-(logp.exp() * logp).sum(-1)).mean().item(), abs=1e-3)
        assert 0 < h.conf <= 1 and h.entropy >= 0


def stats_of(hyps) -> list[tuple[list[int], float, float, float]]:
    return [(h.token_ids, h.mean_logprob, h.conf, h.entropy) for h in hyps]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_stats_on_the_fly_equal_stats_from_every_steps_logits(tiny_random_whisper, monkeypatch, batch_size):
    """Bitwise, on two threads (a lone row, the last batch of 3, is where torch would split a sum)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        t = cpu(tiny_random_whisper, decode_options(with_stats=True, max_new_tokens=7, batch_size=batch_size,
                                                    repetition_guard=False))
        calls = []
        real = t.model.generate

        def spy(**kw):
            calls.append(kw)
            return real(**kw)

        monkeypatch.setattr(t.model, "generate", spy)
        clips = noise_clips(4, seed=3)
        on_the_fly = t.transcribe(clips)
        monkeypatch.setattr(t.decoder, "on_the_fly", lambda: False)
        from_logits = t.transcribe(clips)
    finally:
        torch.set_num_threads(threads)
    assert stats_of(on_the_fly) == stats_of(from_logits)
    assert all(h.n_tokens == 7 and np.isfinite(h.entropy) for h in on_the_fly)
    n = len(calls) // 2
    assert not any(kw.get("output_logits") for kw in calls[:n]) and all(kw["output_logits"] for kw in calls[n:])
    assert not t.model.get_output_embeddings()._forward_hooks  # the hook goes with its generate call


def test_a_batchs_token_statistics_reach_the_host_at_once(tiny_random_whisper, monkeypatch):
    """Three numbers per clip come back with one transfer for the batch (on a GPU, three syncs per clip before;
    the values are the tests' above)."""
    t = cpu(tiny_random_whisper, decode_options(with_stats=True, max_new_tokens=5, batch_size=4))
    counted, real = HostReads(), t.decoder.hypotheses

    def hypotheses(*args, **kwargs):
        with counted.mode:
            return real(*args, **kwargs)

    monkeypatch.setattr(t.decoder, "hypotheses", hypotheses)
    monkeypatch.setattr(t.decoder, "on_the_fly", lambda: False)
    hyps = t.transcribe(noise_clips(4, seed=5))
    assert counted.reads == 0 and all(np.isfinite(h.conf) for h in hyps)


def test_step_stats_follow_the_end_token(tiny_random_whisper):
    """A clip that ends early: its steps after the end token (padding) are not counted."""
    from udistil.labels.decoding.stats import StepStats, token_stats

    t = cpu(tiny_random_whisper, decode_options(max_new_tokens=5))
    head = t.model.get_output_embeddings()
    stats = StepStats(head)
    eos, pad = t.decoder.end_tokens()
    logits = torch.randn(2, 3, head.out_features)
    tokens = torch.tensor([[5, eos, pad], [7, 8, 9]])
    for step in range(3):
        head(torch.zeros(2, 1, head.in_features))  # the hook keeps this step's raw logits
        assert stats.logits.shape == (2, head.out_features)
        stats.logits = logits[:, step]  # known logits instead
        stats(tokens[:, :step + 1])
    stats.close()
    mask = torch.tensor([[True, True, False], [True, True, True]])
    expected = token_stats(logits, tokens, mask)
    got = stats.means(eos=eos, pad=pad)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert not head._forward_hooks


def test_beam_search_with_statistics_is_refused_for_whisper(tiny_random_whisper):
    """transformers' Whisper hands back one clip's beams as two clips' logits: no statistics from them."""
    t = cpu(tiny_random_whisper, decode_options(with_stats=True, max_new_tokens=4, num_beams=2, batch_size=2))
    with pytest.raises(ValueError, match="num_beams: 1"):
        t.transcribe(noise_clips(2))


def test_a_lone_rows_sum_does_not_depend_on_its_neighbours():
    from udistil.labels.decoding.stats import row_sums

    x = torch.randn(3, 51865, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert all(torch.equal(row_sums(x[i:i + 1]), row_sums(x)[i:i + 1]) for i in range(3))
        assert row_sums(x[None, :1]).shape == (1, 1)
    finally:
        torch.set_num_threads(threads)


def test_batched_length_sorted_equals_one_at_a_time(tiny_random_whisper):
    clips = noise_clips(5, seed=1)
    batched = cpu(tiny_random_whisper, decode_options(max_new_tokens=5, batch_size=4))
    single = cpu(tiny_random_whisper, decode_options(max_new_tokens=5, batch_size=1))
    assert [h.token_ids for h in batched.transcribe(clips)] == [h.token_ids for h in single.transcribe(clips)]


def test_a_row_that_emits_timestamps_without_them_decodes_in_one_window(tiny_random_whisper, tmp_path):
    """A weak student can emit timestamp tokens when none are asked for; transformers would then start a second
    window for that row from the same encoder states (a run of repeated windows here; a crash in the toy paper run,
    whose batch mixed such rows with finished ones)."""
    from transformers import WhisperForConditionalGeneration

    folder = shutil.copytree(tiny_random_whisper, tmp_path / "stamps")
    model = WhisperForConditionalGeneration.from_pretrained(folder)
    stamp = model.generation_config.no_timestamps_token_id + 1 + 50  # <|1.00|>
    with torch.no_grad():  # every decoder state becomes v, and the (tied) output row of <|1.00|> points along v
        norm = model.model.decoder.layer_norm
        v = torch.randn(norm.bias.shape, generator=torch.Generator().manual_seed(0))
        norm.weight.zero_(), norm.bias.copy_(v)
        model.get_output_embeddings().weight[stamp] = 50 * v / v.norm() ** 2
    model.save_pretrained(folder)
    hyps = cpu(folder, decode_options(max_new_tokens=4, batch_size=2)).transcribe(noise_clips(3))
    assert [h.token_ids for h in hyps] == [[stamp] * 4] * 3  # each row: one window, its four timestamp tokens


def test_skip_and_on_batch(tiny_random_whisper):
    t = cpu(tiny_random_whisper, decode_options(max_new_tokens=3, batch_size=2))
    seen = []
    out = t.transcribe(noise_clips(5), skip={0, 3}, on_batch=lambda idx, hyps: seen.extend(idx))
    assert sorted(seen) == [1, 2, 4] and out[0] is None and out[3] is None and out[1] is not None
    assert t.encoder_passes == 3


def test_decode_options_name_a_missing_setting():
    from udistil.labels.decoding import DecodeOptions

    section = {k: v for k, v in vars(decode_options()).items() if k not in ("num_beams", "with_stats")}
    with pytest.raises(TypeError, match="num_beams"):
        DecodeOptions.from_section(section)
    assert DecodeOptions.from_section(section, num_beams=2).num_beams == 2 and not decode_options().with_stats


def test_compression_ratio_flags_loops():
    assert compression_ratio("the cat " * 40) > 2.4 > compression_ratio("A short sentence about a cat.")
    assert compression_ratio("") == 0.0


# ---- pseudo-labelling: sharding and resume -----------------------------------------------------------------


@pytest.fixture
def pool_manifest(tmp_path):
    records = [Record(id=f"u{i:02d}", source=a, text=None) for i, a in enumerate(noise_clips(9, seed=2))]
    build_manifest(records=records, corpus="pool", split="train", audio_dir=tmp_path / "audio",
                   manifest_path=tmp_path / "m.parquet", rejected_path=tmp_path / "r.tsv")
    return tmp_path / "m.parquet"


class Interrupted(Exception):
    pass


def shard(manifest, model, opts, out, k, n, after_flush=None):
    """One pseudo-label shard on the CPU with no encoder cache, flushing after every batch."""
    from udistil.labels import pseudo_label as pl

    return pl.transcribe_shard(manifest_path=manifest, model=str(model), options=opts, output=out, shard=k,
                               n_shards=n, flush_every=1, device="cpu", precision="fp32", cache=None,
                               after_flush=after_flush)


def test_interrupted_shard_resumes_to_identical_output(tiny_random_whisper, pool_manifest, tmp_path, monkeypatch):
    from udistil.labels import pseudo_label as pl

    opts = decode_options(max_new_tokens=4, batch_size=2)
    ref = shard(pool_manifest, tiny_random_whisper, opts, tmp_path / "ref" / "shard1.parquet", 1, 2)

    def die(flushes):
        raise Interrupted

    out = tmp_path / "run" / "shard1.parquet"
    with pytest.raises(Interrupted):
        shard(pool_manifest, tiny_random_whisper, opts, out, 1, 2, after_flush=die)
    assert not out.exists()
    rows_path, _ = pl.partial_paths(out)
    assert len(pd.read_parquet(rows_path)) == 2  # the first flushed batch survived

    decoded = []
    real = Transcriber.transcribe

    def counting(self, audios, skip=None, **kw):
        decoded.append(len(audios) - len(skip or ()))
        return real(self, audios, skip=skip, **kw)

    monkeypatch.setattr(Transcriber, "transcribe", counting)
    resumed = shard(pool_manifest, tiny_random_whisper, opts, out, 1, 2)
    assert decoded == [2]  # 4 clips in shard 1, 2 already done
    pd.testing.assert_frame_equal(resumed, ref)
    assert pd.read_parquet(out).equals(pd.read_parquet(tmp_path / "ref" / "shard1.parquet"))
    assert not rows_path.exists()
    assert list(ref.columns) == pl.COLUMNS and ref["id"].tolist() == ["u01", "u03", "u05", "u07"]


def test_gather_restores_manifest_order_and_checks_coverage(tiny_random_whisper, pool_manifest, tmp_path):
    from udistil.labels import pseudo_label as pl

    opts = decode_options(max_new_tokens=2, batch_size=4)
    shards = [shard(pool_manifest, tiny_random_whisper, opts, tmp_path / f"s{k}.parquet", k, 3) for k in range(3)]
    assert sum(len(s) for s in shards) == 9
    df = pl.gather_shards(shards=[tmp_path / f"s{k}.parquet" for k in range(3)], manifest_path=pool_manifest,
                          output=tmp_path / "all.parquet")
    assert df["id"].tolist() == [f"u{i:02d}" for i in range(9)]
    with pytest.raises(ValueError, match="do not cover"):
        pl.gather_shards(shards=[tmp_path / "s0.parquet"], manifest_path=pool_manifest, output=tmp_path / "bad.parquet")


def test_write_wav_is_atomic_on_failure(tmp_path, monkeypatch):
    import soundfile

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(soundfile, "write", boom)
    with pytest.raises(OSError):
        write_wav(np.zeros(10, np.float32), tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []


def test_repetition_guard_stops_only_looping_rows():
    from udistil.labels.decoding.generative import RepetitionGuard

    guard = RepetitionGuard(repeats=4, max_n=3)
    ids = torch.tensor([[50258, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],   # no repetition
                        [50258, 9, 5, 6, 5, 6, 5, 6, 5, 6, 7, 5, 6],      # a bigram loop that was broken
                        [50258, 1, 2, 3, 4, 5, 6, 7, 8, 7, 8, 7, 8],      # only 3 repeats so far
                        [50258, 1, 4, 5, 6, 4, 5, 6, 4, 5, 6, 4, 5]])
    assert guard(ids).tolist() == [False, False, False, False]
    looping = torch.tensor([[50258, 9, 7, 8, 7, 8, 7, 8, 7, 8], [50258, 3, 3, 3, 3, 3, 3, 3, 3, 3]])
    assert guard(looping).tolist() == [True, True]


# ---- CTC models (MMS): language adapter, greedy CTC decoding --------------------------------------------------


def ctc_by_hand(model, tokenizer, clip: np.ndarray) -> str:
    """One clip alone: argmax per frame, repeats merged, blanks (<pad>) dropped, `|` read as a space."""
    values = (clip - clip.mean()) / np.sqrt(clip.var() + 1e-7)  # the feature extractor's normalisation
    with torch.no_grad():
        best = model(torch.tensor(values[None])).logits[0].argmax(-1).tolist()
    merged = [t for j, t in enumerate(best) if j == 0 or best[j - 1] != t]
    chars = [tokenizer.convert_ids_to_tokens(t) for t in merged if t != tokenizer.pad_token_id]
    return "".join(" " if c == "|" else c for c in chars).strip()


def test_ctc_transcription_loads_the_language_adapter_and_decodes_greedily(tiny_random_ctc):
    from safetensors.torch import load_file

    t = cpu(tiny_random_ctc, decode_options(language="ar", batch_size=3))
    adapter = load_file(str(tiny_random_ctc / "adapter.ara.safetensors"))  # MMS's code for the config's "ar"
    assert t.decoder.language == "ara" and adapter
    for name, weights in adapter.items():
        assert torch.equal(t.model.state_dict()[name], weights), name
    clips = noise_clips(4, seed=3)
    hyps = t.transcribe(clips)  # batched and padded: the same text as each clip alone
    texts = [ctc_by_hand(t.model, t.decoder.tokenizer, c) for c in clips]
    assert [h.text for h in hyps] == texts and any(texts)
    assert all(h.n_tokens == len(h.token_ids) > 0 for h in hyps)
    assert all(set(h.text) <= set("abcdefghijklmnopqrstuvwxyz' ") for h in hyps)
    # without the adapter (the saved weights) the same clips read differently: the adapter took effect
    from transformers import Wav2Vec2ForCTC

    bare = Wav2Vec2ForCTC.from_pretrained(str(tiny_random_ctc)).eval()
    assert [ctc_by_hand(bare, t.decoder.tokenizer, c) for c in clips] != texts
    with pytest.raises(ValueError, match="config key 'language'"):
        cpu(tiny_random_ctc, decode_options(language=None))


def test_the_decoder_of_a_model_type_is_its_family_or_a_clear_error():
    from udistil.labels.decoding.base import Decoder
    from udistil.labels.decoding.factory import FAMILIES, decoder_class
    from udistil.labels.decoding.seq2seq import Seq2SeqDecoder

    assert decoder_class("whisper", "m") is FAMILIES["whisper"]
    assert decoder_class("speech_to_text", "m") is Seq2SeqDecoder  # a speech seq2seq type transformers knows
    with pytest.raises(ValueError, match="m: model type 'bert' is not a speech recognition model"):
        decoder_class("bert", "m")
    assert all(issubclass(c, Decoder) for c in FAMILIES.values())
    with pytest.raises(TypeError):  # load is part of the interface: a family without it cannot be made
        type("NoLoad", (Decoder,), {"decode": lambda self, batch: []})(None, None, None, None, None)
