"""udistil.scores.jobs: each run_* job writes id/score/reason and records the settings it applied."""

import json
import math

import pandas as pd
import pytest

from tests.helpers import filled_config
from udistil.corpora.manifest import Record, build_manifest
from udistil.corpora.tts import synthesize
from udistil.scores import read_score, teacher_stats

TEXTS = {"a": "the cat sat on a mat", "b": "a dog ran far away", "c": "the dog sat"}
LABELS = pd.DataFrame({"id": ["a", "b", "c"], "pseudo_label": ["the cat sat on a mat", "", "the dog sat down"],
                       "mean_logprob": [-0.1, -3.0, -0.7], "conf": [0.9, 0.1, 0.5], "entropy": [0.2, 3.0, 1.1],
                       "n_tokens": [6, 0, 4], "compression_ratio": [1.1, 0.0, 1.0]})


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """A 3-clip manifest (espeak-ng speech of TEXTS), its pseudo-labels and proxy transcripts."""
    tmp = tmp_path_factory.mktemp("pool")
    records = [Record(id=u, source=synthesize(t, "en-us", rate=170), text=t) for u, t in TEXTS.items()]
    build_manifest(records=records, corpus="p", split="train", audio_dir=tmp / "audio",
                   manifest_path=tmp / "m.parquet", rejected_path=tmp / "r.tsv")
    LABELS.to_parquet(tmp / "labels.parquet")
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["the cat sat on a mat", "a dog", "quantum tax law"]}
                 ).to_parquet(tmp / "proxy.parquet")
    return tmp


def settings(path) -> dict:
    return json.loads(read_score(path)[1]["settings"])


def section(name: str, given: dict, **others: dict) -> dict:
    """The `scores.<name>` section as validation fills it from the schema (its model declared in `models`)."""
    models = {**filled_config()["models"]}
    if "model" in given:
        models[given["model"]] = {"random": "causal_lm", "seed": 1, "tokenizer": "whisper-base", "config": {}}
    return filled_config(models=models, scores={name: given, **others})["scores"][name]


@pytest.mark.parametrize("stat", teacher_stats())
def test_teacher_stat_copies_the_column(pool, tmp_path, stat):
    from udistil.scores.jobs import run_teacher_stat

    run_teacher_stat(labels=pool / "labels.parquet", stat=stat, out=tmp_path / "s.parquet")
    df, meta = read_score(tmp_path / "s.parquet")
    worst = -math.inf if meta["keep"] == "high" else math.inf
    assert df["score"].tolist() == [LABELS[stat][0], worst, LABELS[stat][2]]
    assert df["reason"].tolist()[1] == "empty pseudo-label" and df["reason"].isna().tolist() == [True, False, True]
    assert settings(tmp_path / "s.parquet") == {"statistic": stat} and meta["score"] == stat


def test_proxy_and_wer_jobs_by_hand(pool, tmp_path):
    from udistil.scores.jobs import run_proxy, run_wer

    run_proxy(labels=pool / "labels.parquet", transcripts=pool / "proxy.parquet", norm_kind="basic",
              out=tmp_path / "proxy.parquet")
    run_wer(labels=pool / "labels.parquet", manifest=pool / "m.parquet", norm_kind="basic", out=tmp_path / "w.parquet")
    proxy, _ = read_score(tmp_path / "proxy.parquet")
    assert proxy["score"].tolist() == [0.0, math.inf, pytest.approx(100 * 4 / 3)]  # 3 subs + 1 insertion over 3
    assert proxy["id"].tolist() == ["a", "b", "c"] and proxy["proxy_text"][2] == "quantum tax law"
    assert settings(tmp_path / "proxy.parquet") == {"normalizer": "basic", "transcripts": str(pool / "proxy.parquet")}
    wer, _ = read_score(tmp_path / "w.parquet")
    assert wer["score"].tolist() == [0.0, math.inf, pytest.approx(100 / 3)]  # "down" inserted into 3 words


def test_nnll_job_records_the_filled_section_and_location(pool, tmp_path):
    import torch

    from udistil.models.specs import random_causal_lm
    from udistil.scores.nnll import load_causal_lm, run_nnll, text_nll

    spec = {"random": "causal_lm", "seed": 1, "tokenizer": "whisper-base", "config": {}}
    lm = random_causal_lm(spec, tmp_path / "lm")
    cfg = section("nnll", {"model": "tiny-lm"})
    assert cfg == {"model": "tiny-lm", "batch_size": 8}  # the schema's default, filled by validation
    run_nnll(labels=pool / "labels.parquet", cfg=cfg, model=str(lm), device="cpu", out=tmp_path / "n.parquet")
    df, meta = read_score(tmp_path / "n.parquet")
    assert settings(tmp_path / "n.parquet") == {**cfg, "location": str(lm), "device": "cpu"} and meta["keep"] == "low"
    model, tok = load_causal_lm(str(lm), torch.device("cpu"))
    alone = text_nll(["the dog sat down"], model, tok, batch_size=1)[0][0]
    assert df["score"].tolist() == [pytest.approx(df["score"][0]), math.inf, pytest.approx(alone, rel=1e-4)]
    assert 0 < df["score"][0] < math.inf and df["lm_tokens"].tolist()[1] == 0


def test_sonar_stand_in_job(pool, tmp_path):
    from udistil.models.assets import packaged_path
    from udistil.scores.sonar import run_sonar

    cfg = section("sonar", {"backend": "text_embedding", "model": "minilm"}, proxy={"model": "tiny-teacher"})
    location = str(packaged_path("all-minilm-l6-v2"))
    run_sonar(labels=pool / "labels.parquet", cfg=cfg, out=tmp_path / "s.parquet", transcripts=pool / "proxy.parquet",
              manifest=None, model=location, device="cpu")
    df, meta = read_score(tmp_path / "s.parquet")
    assert df["score"][0] == pytest.approx(1.0, abs=1e-5) and df["score"][1] == -math.inf
    assert df["score"][2] < 0.5 and meta["keep"] == "high"  # "the dog sat down" vs "quantum tax law"
    assert settings(tmp_path / "s.parquet") == {**cfg, "location": location, "stand_in": True}
    with pytest.raises(ValueError, match="text_embedding' needs proxy transcripts"):
        run_sonar(labels=pool / "labels.parquet", cfg=cfg, out=tmp_path / "x.parquet", transcripts=None,
                  manifest=None, model=location, device="cpu")


def test_pesq_job_applies_and_records_the_filled_section(pool, tmp_path):
    from udistil.scores.pesq import run_pesq

    cfg = section("pesq", {})
    assert set(cfg) == {"voice", "rate", "mode", "align"} and cfg["rate"] == 170  # the rate the clips were spoken at
    run_pesq(labels=pool / "labels.parquet", manifest=pool / "m.parquet", cfg=cfg, out=tmp_path / "p.parquet")
    df, meta = read_score(tmp_path / "p.parquet")
    assert settings(tmp_path / "p.parquet") == cfg and meta["keep"] == "high"
    assert df["score"][0] > 4.0 and df["score"][0] > df["score"][2] and df["score"][1] == -math.inf
    with pytest.raises(ValueError, match=r"scores.pesq lacks \['align'\]"):
        run_pesq(labels=pool / "labels.parquet", manifest=pool / "m.parquet",
                 cfg={k: v for k, v in cfg.items() if k != "align"}, out=tmp_path / "q.parquet")


def test_bad_inputs_name_the_file(pool, tmp_path):
    from udistil.scores.jobs import run_teacher_stat
    from udistil.scores.pesq import run_pesq

    LABELS.drop(columns="conf").to_parquet(tmp_path / "noconf.parquet")
    with pytest.raises(ValueError, match=r"noconf.parquet: pseudo-label table lacks columns \['conf'\]"):
        run_teacher_stat(labels=tmp_path / "noconf.parquet", stat="conf", out=tmp_path / "c.parquet")
    pd.concat([LABELS, LABELS.iloc[:1]]).to_parquet(tmp_path / "dupe.parquet")
    with pytest.raises(ValueError, match=r"dupe.parquet: pseudo-label table has duplicate ids \['a'\]"):
        run_teacher_stat(labels=tmp_path / "dupe.parquet", stat="conf", out=tmp_path / "c.parquet")
    LABELS.assign(id=["a", "b", "zz"]).to_parquet(tmp_path / "stranger.parquet")
    with pytest.raises(ValueError, match=r"m.parquet: no manifest row for pseudo-label ids \['zz'\]"):
        run_pesq(labels=tmp_path / "stranger.parquet", manifest=pool / "m.parquet", cfg=section("pesq", {}),
                 out=tmp_path / "p.parquet")
    assert not (tmp_path / "c.parquet").exists() and not (tmp_path / "p.parquet").exists()
