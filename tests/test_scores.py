import math
import sys
import types

import numpy as np
import pandas as pd
import pytest

from tests.helpers import HostReads, decode_options
from udistil.corpora.manifest import Record, build_manifest
from udistil.corpora.tts import synthesize
from udistil.labels.pseudo_label import transcribe_shard
from udistil.scores import SCORES, badness, read_score, worst, write_score
from udistil.scores.proxy import proxy_score, supervised_wer
from udistil.scores.teacher import teacher_score

from .helpers import tiny_seamless_m4t_v2

LABELS = pd.DataFrame({"id": ["a", "b", "c"], "pseudo_label": ["The cat sat.", "", "a dog ran far"],
                       "conf": [0.9, 0.2, 0.6], "entropy": [0.3, 2.0, 1.0], "n_tokens": [4, 0, 4],
                       "mean_logprob": [-0.1, -2.0, -0.5], "compression_ratio": [1.0, 0.0, 1.0]})


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pool")
    texts = ["The cat sat on a mat.", "A dog ran far away.", "The dog sat."]
    records = [Record(id=u, source=synthesize(t, "en-us"), text=t) for u, t in zip("abc", texts, strict=True)]
    build_manifest(records=records, corpus="p", split="train", audio_dir=tmp / "audio",
                   manifest_path=tmp / "m.parquet", rejected_path=tmp / "r.tsv")
    return tmp / "m.parquet"


@pytest.mark.parametrize("kind", ["seamless", "whisper"])
def test_proxy_through_real_decoding_path(kind, pool, tmp_path, tiny_random_whisper):
    model = tiny_seamless_m4t_v2(tmp_path / "sm4t") if kind == "seamless" else tiny_random_whisper
    transcripts = transcribe_shard(manifest_path=pool, model=str(model), output=tmp_path / "t.parquet",
                                   options=decode_options(max_new_tokens=4, batch_size=2), shard=0, n_shards=1,
                                   flush_every=1, device="cpu", precision="fp32", cache=None, statistics=False)
    assert list(transcripts.columns) == ["id", "text"]
    assert list(transcripts.id) == ["a", "b", "c"] and transcripts.text.map(lambda t: isinstance(t, str)).all()
    scores = proxy_score(LABELS, transcripts, "basic")
    assert scores.loc[1, "score"] == math.inf and scores.loc[1, "reason"] == "empty pseudo-label"
    assert np.isfinite(scores.loc[[0, 2], "score"]).all() and (scores.loc[[0, 2], "score"] >= 0).all()


def test_proxy_values_and_worst_cases():
    transcripts = pd.DataFrame({"id": ["a", "c"], "text": ["the cat sat", "a dog ran away"]})
    s = proxy_score(LABELS, transcripts, "basic").set_index("id")
    assert s.loc["a", "score"] == 0.0
    assert s.loc["c", "score"] == pytest.approx(100 / 4)  # the proxy is the reference: "away" -> "far"
    assert s.loc["b", "score"] == worst("proxy")
    missing = proxy_score(LABELS, transcripts.iloc[:1], "basic").set_index("id")
    assert missing.loc["c", "reason"] == "no proxy transcript"


def test_supervised_wer_needs_ground_truth():
    manifest = pd.DataFrame({"id": ["a", "b", "c"], "text": ["the cat sat", "x", None]})
    s = supervised_wer(LABELS, manifest, "basic").set_index("id")
    assert s.loc["a", "score"] == 0.0 and s.loc["b", "score"] == math.inf
    assert math.isnan(s.loc["c", "score"]) and s.loc["c", "reason"] == "no ground truth"


def test_teacher_stats_and_direction_metadata(tmp_path):
    conf = teacher_score(LABELS, "conf")
    ent = teacher_score(LABELS, "entropy")
    assert conf.score.tolist() == [0.9, -math.inf, 0.6] and ent.score.tolist() == [0.3, math.inf, 1.0]
    write_score(conf, "conf", tmp_path / "conf.parquet")
    df, meta = read_score(tmp_path / "conf.parquet")
    assert meta["keep"] == "high" and meta["score"] == "conf" and df.equals(conf)
    assert badness("conf", conf.score).tolist() == [-0.9, math.inf, -0.6]
    assert {s: i.keep for s, i in SCORES.items()} == {"proxy": "low", "sonar": "high", "conf": "high",
                                                     "entropy": "low", "nnll": "low", "pesq": "high", "wer": "low"}


def test_nnll_with_tiny_random_lm(tmp_path):
    import torch

    from udistil.models.specs import random_causal_lm
    from udistil.scores.nnll import load_causal_lm, nnll_score, text_nll

    folder = random_causal_lm({"random": "causal_lm", "seed": 1, "tokenizer": "whisper-base", "config": {}},
                              tmp_path / "lm")
    model, tok = load_causal_lm(str(folder), torch.device("cpu"))
    counted = HostReads()
    with counted.mode:
        scores = nnll_score(LABELS, model, tok, batch_size=2)
    assert counted.reads == 0  # a batch's values reach the host at once (a sync per text on a GPU before)
    assert scores.loc[1, "score"] == math.inf and scores.loc[1, "reason"] == "empty pseudo-label"
    # batched with padding equals one text alone, and equals a direct computation
    alone = text_nll(["a dog ran far"], model, tok, batch_size=1)[0][0]
    assert scores.loc[2, "score"] == pytest.approx(alone, rel=1e-4)
    ids = [tok.eos_token_id] + tok("a dog ran far", add_special_tokens=False).input_ids
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0, :-1], -1)
    direct = -logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].mean().item()
    assert alone == pytest.approx(direct, rel=1e-4)


def test_sonar_adapter_up_to_the_library_call(monkeypatch):
    """sonar-space cannot run offline: its two pipelines are replaced in this test only."""
    from udistil.scores import sonar

    calls = {}

    class Speech:
        def __init__(self, encoder, device):
            calls["speech"] = encoder

        def predict(self, waves, batch_size):
            calls["waves"] = [tuple(w.shape) for w in waves]
            return np.array([[1.0, 0.0], [0.0, 1.0]])

    class Text:
        def __init__(self, encoder, tokenizer, device):
            calls["text"] = (encoder, tokenizer)

        def predict(self, texts, source_lang, batch_size):
            calls["texts"], calls["lang"] = texts, source_lang
            return np.array([[1.0, 0.0], [1.0, 1.0]])

    speech_mod = types.ModuleType("sonar.inference_pipelines.speech")
    speech_mod.SpeechToEmbeddingModelPipeline = Speech
    text_mod = types.ModuleType("sonar.inference_pipelines.text")
    text_mod.TextToEmbeddingModelPipeline = Text
    modules = {"sonar": types.ModuleType("sonar"),
               "sonar.inference_pipelines": types.ModuleType("sonar.inference_pipelines"),
               "sonar.inference_pipelines.speech": speech_mod, "sonar.inference_pipelines.text": text_mod}
    for name, mod in modules.items():
        monkeypatch.setitem(sys.modules, name, mod)
    audios = [np.zeros(16000, np.float32), np.zeros(8000, np.float32), np.zeros(4000, np.float32)]
    out = sonar.sonar_score(LABELS, audios, speech_encoder="sonar_speech_encoder_arb",
                            text_encoder="text_sonar_basic_encoder", text_lang="arb_Arab", device="cpu")
    assert calls["speech"] == "sonar_speech_encoder_arb" and calls["lang"] == "arb_Arab"
    assert calls["texts"] == ["The cat sat.", "a dog ran far"] and calls["waves"] == [(1, 16000), (1, 4000)]
    assert out.score.tolist() == pytest.approx([1.0, -math.inf, math.sqrt(0.5)])


def test_text_embedding_stand_in_with_packaged_minilm():
    from udistil.models.assets import packaged_path
    from udistil.scores.sonar import text_embedding_score

    labels = pd.DataFrame({"id": ["a", "b", "c"], "pseudo_label": ["the cat sat on the mat", "", "quantum tax law"]})
    proxy = pd.DataFrame({"id": ["a", "b", "c"], "text": ["the cat sat on a mat", "x", "the cat sat on a mat"]})
    s = text_embedding_score(labels, proxy, str(packaged_path("all-minilm-l6-v2")))
    assert s.loc[0, "score"] > 0.9 > s.loc[2, "score"] and s.loc[1, "score"] == -math.inf


def test_pesq_scores_resynthesis_and_records_failures():
    from udistil.scores.pesq import pesq_score

    text = "The cat sat on a mat."
    audio = synthesize(text, "en-us", rate=170)
    labels = pd.DataFrame({"id": ["same", "empty", "silent"], "pseudo_label": [text, "", text]})
    out = pesq_score(labels, [audio, audio, np.zeros(16000, np.float32)], voice="en-us", rate=170, mode="wb",
                     how="stretch")
    assert out.loc[0, "score"] > 4.0 and pd.isna(out.loc[0, "reason"])  # identical TTS: near-perfect PESQ
    assert out.loc[1, "score"] == -math.inf and out.loc[1, "reason"] == "empty pseudo-label"
    assert out.loc[2, "score"] == -math.inf and out.loc[2, "reason"].startswith("pesq failed")


def test_one_reader_checks_every_id_table(tmp_path):
    """Score tables, manifests and pseudo-label tables are read by `read_id_table`: the error names the file,
    the table, the missing columns, or the column with the repeated ids and their rows."""
    from udistil.common.errors import ManifestError
    from udistil.corpora.manifest import read_manifest

    pd.DataFrame({"id": ["a", "b", "a", "c", "c"], "score": [1.0, 2, 3, 4, 5]}).to_parquet(tmp_path / "proxy.parquet")
    with pytest.raises(ValueError, match=r"proxy.parquet: score table 'proxy' has duplicate ids \['a', 'c'\] "
                                         r"in column 'id' \(rows \[0, 2, 3, 4\]\)"):
        read_score(tmp_path / "proxy.parquet")
    pd.DataFrame({"id": ["a", "b"], "score": [1.0, 2]}).to_parquet(tmp_path / "conf.parquet")
    assert read_score(tmp_path / "conf.parquet", covers=pd.Series(["b", "a"]))[0]["id"].tolist() == ["a", "b"]
    with pytest.raises(ValueError, match=r"conf.parquet: score table 'conf' has no row for 1 manifest ids, "
                                         r"e.g. \['d'\]"):
        read_score(tmp_path / "conf.parquet", covers=pd.Series(["a", "d"]))
    with pytest.raises(ManifestError, match=r"conf.parquet: manifest lacks columns \['audio', 'duration_s', 'text', "
                                            r"'corpus', 'split'\]"):
        read_manifest(tmp_path / "conf.parquet")
