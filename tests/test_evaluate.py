"""udistil.evaluate: per-utterance tables and metrics JSON, WER checked by hand and through a real model."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import decode_options
from udistil.decoding import Hypothesis
from udistil.manifest import Record, build_manifest

TEXTS = ["The cat sat on the mat.", "A dog ran far away", "Birds sing"]
HYPS = ["the cat sat on a mat", "a dog ran away", ""]  # 1 substitution, 1 deletion, 2 deletions over 13 words


def make_manifest(folder, texts, lengths) -> str:
    rng = np.random.default_rng(0)
    records = [Record(id=f"u{i}", source=(rng.standard_normal(n) * 0.1).astype(np.float32), text=t)
               for i, (t, n) in enumerate(zip(texts, lengths, strict=True))]
    build_manifest(records=records, corpus="c", split="test", audio_dir=folder / "audio",
                   manifest_path=folder / "m.parquet", rejected_path=folder / "r.tsv")
    return folder / "m.parquet"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return make_manifest(tmp_path_factory.mktemp("eval"), TEXTS, [16000, 8000, 12000])


class KnownTranscriber:
    """Stands in for Transcriber: returns HYPS in input order."""

    def __init__(self):
        self.model, self.device, self.encoder_passes = torch.nn.Linear(3, 2), torch.device("cpu"), 0

    def transcribe(self, audios, desc):
        self.encoder_passes += 1
        return [Hypothesis(text=h, n_tokens=len(h.split())) for h in HYPS[:len(audios)]]


def test_score_hypotheses_by_hand():
    from udistil.evaluate import score_hypotheses

    table, scores = score_hypotheses(TEXTS, HYPS, "basic")
    assert scores["wer"] == pytest.approx(round(100 * 4 / 13, 4))
    assert table["reference_norm"].tolist() == ["the cat sat on the mat", "a dog ran far away", "birds sing"]
    assert table["hypothesis"].tolist() == HYPS
    chars = len("the cat sat on the mat") + len("a dog ran far away") + len("birds sing")  # 50
    assert scores["cer"] == pytest.approx(round(100 * (3 + 4 + 10) / chars, 4))  # "the"->"a", "far ", all of it


def test_evaluate_set_writes_known_hypotheses(manifest, tmp_path):
    from udistil.evaluate import EvalSet, _references, evaluate_set

    s = EvalSet(manifest=manifest, table=tmp_path / "t.parquet", metrics=tmp_path / "m.json", tags={"split": "test"})
    metrics = evaluate_set(KnownTranscriber(), s, _references(manifest), "basic", {"model": "known"})
    table = pd.read_parquet(tmp_path / "t.parquet")
    assert table["id"].tolist() == ["u0", "u1", "u2"] and table["hypothesis"].tolist() == HYPS
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == metrics and metrics["wer"] == pytest.approx(100 * 4 / 13, abs=1e-4)
    assert metrics["n"] == 3 and metrics["audio_seconds"] == pytest.approx(36000 / 16000)
    assert metrics["params"] == 3 * 2 + 2 and metrics["encoder_passes"] == 1
    assert metrics["model"] == "known" and metrics["split"] == "test"


def test_evaluate_with_a_tiny_random_whisper(tmp_path, tiny_random_whisper):
    from udistil.evaluate import EvalSet, evaluate
    from udistil.metrics import cer, wer

    first = make_manifest(tmp_path / "a", TEXTS, [16000, 8000, 12000])
    second = make_manifest(tmp_path / "b", ["one two"], [4000])
    sets = [EvalSet(manifest=m, table=tmp_path / f"{k}.parquet", metrics=tmp_path / f"{k}.json",
                    tags={"corpus": k, "split": "test"}) for k, m in (("a", first), ("b", second))]
    out = evaluate(model=str(tiny_random_whisper), sets=sets, options=decode_options(max_new_tokens=4),
                   norm_kind="basic", device="cpu", precision="fp32", cache=None, extra={"model": "tiny"})
    for s, metrics, (ids, seconds) in zip(sets, out, [(["u0", "u1", "u2"], 2.25), (["u0"], 0.25)], strict=True):
        table = pd.read_parquet(s.table)
        assert table["id"].tolist() == ids and len(table) == metrics["n"] == len(ids)
        refs, hyps = table["reference_norm"].tolist(), table["hypothesis_norm"].tolist()
        assert metrics["wer"] == pytest.approx(round(wer(refs, hyps), 4))
        assert metrics["cer"] == pytest.approx(round(cer(refs, hyps), 4))
        assert metrics["audio_seconds"] == pytest.approx(seconds) and metrics["corpus"] == s.tags["corpus"]
        assert metrics["model"] == "tiny" and metrics["device"] == "cpu" and metrics["encoder_passes"] >= 1
        assert json.loads(open(s.metrics).read()) == metrics


def test_references_are_checked_before_the_model_loads(manifest, tmp_path):
    from udistil.evaluate import EvalSet, evaluate

    m = pd.read_parquet(manifest)
    m.loc[2, "text"] = None
    m.to_parquet(tmp_path / "unlabelled.parquet")
    sets = [EvalSet(manifest=manifest, table=tmp_path / "a", metrics=tmp_path / "b"),
            EvalSet(manifest=tmp_path / "unlabelled.parquet", table=tmp_path / "t", metrics=tmp_path / "j")]
    with pytest.raises(ValueError, match=r"unlabelled.parquet: evaluation needs references; no text for \['u2'\]"):
        evaluate(model=str(tmp_path / "no-such-model"), sets=sets, options=decode_options(), norm_kind="basic",
                 device="cpu", precision="fp32", cache=None)
    assert not (tmp_path / "a").exists()


def test_missing_audio_names_the_file(manifest, tmp_path):
    from udistil.evaluate import EvalSet, _references, evaluate_set

    m = pd.read_parquet(manifest)
    m.loc[1, "audio"] = str(tmp_path / "gone.wav")
    m.to_parquet(tmp_path / "broken.parquet")
    s = EvalSet(manifest=tmp_path / "broken.parquet", table=tmp_path / "t", metrics=tmp_path / "j")
    with pytest.raises(ValueError, match=r"gone.wav .*broken.parquet.* does not exist"):
        evaluate_set(KnownTranscriber(), s, _references(s.manifest), "basic")
