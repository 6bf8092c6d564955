import hashlib
import struct

import numpy as np
import pytest
import yaml

from udistil.models import assets
from udistil.models.ctranslate2 import CT2FormatError, read_model_bin, whisper_state_dict


def _str(s: str) -> bytes:
    b = s.encode() + b"\0"
    return struct.pack("<H", len(b)) + b


def ct2_bytes(variables: dict[str, np.ndarray], aliases: dict[str, str], version: int = 6) -> bytes:
    out = struct.pack("<I", version) + _str("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", len(variables))
    codes = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}
    for name, arr in variables.items():
        out += _str(name) + struct.pack("<B", arr.ndim) + b"".join(struct.pack("<I", d) for d in arr.shape)
        out += struct.pack("<BI", codes[arr.dtype], arr.nbytes) + arr.tobytes()
    out += struct.pack("<I", len(aliases)) + b"".join(_str(a) + _str(t) for a, t in aliases.items())
    return out


def test_reader_round_trip_and_fused_projection_split():
    qkv = np.arange(12 * 4, dtype=np.float16).reshape(12, 4)
    kv_bias = np.arange(8, dtype=np.float16)
    variables = {
        "decoder/num_heads": np.array(2, dtype=np.int16),
        "decoder/layer_0/self_attention/linear_0/weight": qkv,
        "decoder/layer_0/self_attention/linear_0/bias": np.arange(12, dtype=np.float16),
        "decoder/layer_0/attention/linear_1/bias": kv_bias,
        "decoder/layer_0/ffn/layer_norm/gamma": np.ones(4, np.float32),
    }
    read, aliases = read_model_bin(ct2_bytes(variables, {"decoder/projection/weight": "decoder/embeddings/weight"}))
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    np.testing.assert_array_equal(read["decoder/layer_0/self_attention/linear_0/weight"], qkv)
    sd = whisper_state_dict(read)
    p = "model.decoder.layers.0"
    np.testing.assert_array_equal(sd[f"{p}.self_attn.q_proj.weight"], qkv[:4].astype(np.float32))
    np.testing.assert_array_equal(sd[f"{p}.self_attn.v_proj.weight"], qkv[8:].astype(np.float32))
    assert f"{p}.self_attn.k_proj.bias" not in sd  # HF k_proj has no bias
    np.testing.assert_array_equal(sd[f"{p}.encoder_attn.v_proj.bias"], kv_bias[4:].astype(np.float32))
    assert f"{p}.final_layer_norm.weight" in sd


def test_reader_rejects_unknown_version():
    with pytest.raises(CT2FormatError, match="version 9"):
        read_model_bin(struct.pack("<I", 9))


def test_sha256_mismatch_is_a_clear_error(monkeypatch):
    bad = assets.PackagedWhisper(**{**assets.PACKAGED_WHISPER["whisper-tiny.en"].__dict__, "sha256": "0" * 64})
    with pytest.raises(assets.AssetError, match="sha256 mismatch.*model.bin"):
        assets.joined_model_bin(bad)


def test_joined_base_matches_pinned_size_and_hash():
    data = assets.joined_model_bin(assets.PACKAGED_WHISPER["whisper-base"])
    assert len(data) == 145_217_532
    assert hashlib.sha256(data).hexdigest() == assets.PACKAGED_WHISPER["whisper-base"].sha256


def test_missing_package_is_named():
    with pytest.raises(assets.AssetError, match="no_such_pkg"):
        assets.package_file("no_such_pkg", "x")


@pytest.mark.parametrize("fixture", ["whisper_base", "whisper_tiny_en"])
def test_converted_folder_loads_in_pipeline(fixture, request):
    from transformers import pipeline

    folder = request.getfixturevalue(fixture)
    asr = pipeline("automatic-speech-recognition", model=str(folder))
    tok = asr.tokenizer
    assert tok.decode(tok(" this is").input_ids, skip_special_tokens=True).strip() == "this is"
    assert len(tok) == asr.model.config.vocab_size
    assert asr.model.generation_config.no_timestamps_token_id == tok.convert_tokens_to_ids("<|notimestamps|>")
    from tests.helpers import decode_options
    from udistil.corpora.tts import synthesize
    from udistil.labels.decoding import Transcriber

    clip = synthesize("The quick brown fox jumps over the lazy dog.", "en-us", rate=160)
    kw = {"language": "en", "task": "transcribe"} if asr.model.generation_config.is_multilingual else {}
    via_pipeline = asr(clip, generate_kwargs={**kw, "max_new_tokens": 64})["text"].strip().lower()
    assert "quick" in via_pipeline and "dog" in via_pipeline  # the folder is a working recogniser
    features = asr.feature_extractor(clip, sampling_rate=16000, return_tensors="pt").input_features
    plain = tok.batch_decode(asr.model.generate(features, **kw, max_new_tokens=64), skip_special_tokens=True)[0]
    engine = Transcriber.load(str(folder), decode_options(max_new_tokens=64), device="cpu", precision="fp32",
                              cache=None)
    assert engine.transcribe([clip])[0].text == plain.strip()  # the engine's split encoder/decoder = generate()
    gen = asr.model.generation_config
    prompt = asr.model.generate(features, **kw, max_new_tokens=1, force_unique_generate_call=True)[0, :-1].tolist()
    assert prompt == [gen.decoder_start_token_id, *([tok.convert_tokens_to_ids("<|en|>"), gen.task_to_id["transcribe"]]
                      if gen.is_multilingual else []), gen.no_timestamps_token_id]  # .en: no language token
    card = yaml.safe_load((folder / "README.md").read_text().split("---")[1])
    assert card["base_model"] == {"whisper_base": "openai/whisper-base", "whisper_tiny_en": "openai/whisper-tiny.en"}[
        fixture] and card["pipeline_tag"] == "automatic-speech-recognition"


def test_base_transcribes_clean_synthetic_speech(whisper_base):
    """Converted weights are the real model: clean espeak sentences transcribed with WER <= 25%."""
    import jiwer
    from transformers import pipeline

    from udistil.common.normalize import normalizer
    from udistil.corpora.sentences import SentenceGenerator
    from udistil.corpora.tts import synthesize

    gen = SentenceGenerator(7)
    refs = [gen.sentence() for _ in range(12)]
    asr = pipeline("automatic-speech-recognition", model=str(whisper_base))
    hyps = [asr(synthesize(r, "en-us", rate=160), generate_kwargs={"language": "en", "task": "transcribe"})["text"]
            for r in refs]
    norm = normalizer("english")
    wer = jiwer.wer([norm(r) for r in refs], [norm(h) for h in hyps])
    assert wer <= 0.25, list(zip(refs, hyps, strict=True))
