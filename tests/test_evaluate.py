"""udistil.evaluate.evaluation: per-utterance tables and metrics JSON, WER checked by hand and through a real model."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import decode_options
from udistil.corpora.manifest import Record, build_manifest
from udistil.labels.decoding import Hypothesis

TEXTS = ["The cat sat on the mat.", "A dog ran far away", "Birds sing"]
HYPS = ["the cat sat on a mat", "a dog ran away", ""]  # 1 substitution, 1 deletion, 2 deletions over 13 words


def make_manifest(folder, texts, lengths, max_seconds=None) -> str:
    rng = np.random.default_rng(0)
    records = [Record(id=f"u{i}", source=(rng.standard_normal(n) * 0.1).astype(np.float32), text=t)
               for i, (t, n) in enumerate(zip(texts, lengths, strict=True))]
    build_manifest(records=records, corpus="c", split="test", audio_dir=folder / "audio",
                   manifest_path=folder / "m.parquet", rejected_path=folder / "r.tsv", max_seconds=max_seconds)
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
    from udistil.evaluate.evaluation import score_hypotheses

    table, scores = score_hypotheses(TEXTS, HYPS, "basic")
    assert scores["wer"] == pytest.approx(round(100 * 4 / 13, 4))
    assert table["reference_norm"].tolist() == ["the cat sat on the mat", "a dog ran far away", "birds sing"]
    assert table["hypothesis"].tolist() == HYPS
    chars = len("the cat sat on the mat") + len("a dog ran far away") + len("birds sing")  # 50
    assert scores["cer"] == pytest.approx(round(100 * (3 + 4 + 10) / chars, 4))  # "the"->"a", "far ", all of it


def test_evaluate_set_writes_known_hypotheses(manifest, tmp_path):
    from udistil.evaluate.evaluation import EvalSet, _references, evaluate_set

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
    from udistil.evaluate.evaluation import EvalSet, evaluate
    from udistil.evaluate.metrics import cer, wer

    first = make_manifest(tmp_path / "a", TEXTS, [16000, 8000, 12000])
    second = make_manifest(tmp_path / "b", ["one two"], [4000])
    sets = [EvalSet(manifest=m, table=tmp_path / f"{k}.parquet", metrics=tmp_path / f"{k}.json",
                    tags={"corpus": k, "split": "test"}) for k, m in (("a", first), ("b", second))]
    out = evaluate(model=str(tiny_random_whisper), sets=sets, options=decode_options(max_new_tokens=4),
                   norm_kind="basic", device="cpu", precision="fp32", cache=None, long_clips="first_window",
                   extra={"model": "tiny"})
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
    from udistil.evaluate.evaluation import EvalSet, evaluate

    m = pd.read_parquet(manifest)
    m.loc[2, "text"] = None
    m.to_parquet(tmp_path / "unlabelled.parquet")
    sets = [EvalSet(manifest=manifest, table=tmp_path / "a", metrics=tmp_path / "b"),
            EvalSet(manifest=tmp_path / "unlabelled.parquet", table=tmp_path / "t", metrics=tmp_path / "j")]
    with pytest.raises(ValueError, match=r"unlabelled.parquet: evaluation needs references; no text for \['u2'\]"):
        evaluate(model=str(tmp_path / "no-such-model"), sets=sets, options=decode_options(), norm_kind="basic",
                 device="cpu", precision="fp32", cache=None, long_clips="drop")
    assert not (tmp_path / "a").exists()


def test_missing_audio_names_the_file(manifest, tmp_path):
    from udistil.evaluate.evaluation import EvalSet, _references, evaluate_set

    m = pd.read_parquet(manifest)
    m.loc[1, "audio"] = str(tmp_path / "gone.wav")
    m.to_parquet(tmp_path / "broken.parquet")
    s = EvalSet(manifest=tmp_path / "broken.parquet", table=tmp_path / "t", metrics=tmp_path / "j")
    with pytest.raises(ValueError, match=r"gone.wav .*broken.parquet.* does not exist"):
        evaluate_set(KnownTranscriber(), s, _references(s.manifest), "basic")


# ---- long clips (the authors' evaluate.py keeps them) and categories (Table 3) -------------------------------


class LengthRecorder(KnownTranscriber):
    """Records the lengths of the clips it is given."""

    def transcribe(self, audios, desc):
        self.lengths = [len(a) for a in audios]
        return [Hypothesis(text="a", n_tokens=1) for _ in audios]


def test_long_clips_are_kept_for_evaluation_and_dropped_from_pools(tmp_path):
    from udistil.corpora.manifest import MAX_SECONDS, length_limit

    assert length_limit(pool=True, long_clips="first_window") == MAX_SECONDS == 30
    assert length_limit(pool=False, long_clips="drop") == 30
    assert length_limit(pool=False, long_clips="first_window") is None
    assert length_limit(pool=False, long_clips="sequential") is None
    rng = np.random.default_rng(0)
    records = [Record(id=f"u{i}", source=(rng.standard_normal(n) * 0.1).astype(np.float32), text="a b")
               for i, n in enumerate([16000, 31 * 16000])]
    for limit, kept in ((30, ["u0"]), (None, ["u0", "u1"])):
        build_manifest(records=records, corpus="c", split="test", audio_dir=tmp_path / f"a{kept}",
                       manifest_path=tmp_path / "m.parquet", rejected_path=tmp_path / "r.tsv", max_seconds=limit)
        assert pd.read_parquet(tmp_path / "m.parquet")["id"].tolist() == kept
        rejected = pd.read_csv(tmp_path / "r.tsv", sep="\t")
        assert rejected["reason"].tolist() == (["longer than 30 s (31.0 s)"] if limit else [])


@pytest.mark.parametrize("first_window", [True, False])
def test_clips_over_30_s_are_decoded_on_their_first_window_and_counted(tmp_path, first_window):
    from udistil.evaluate.evaluation import EvalSet, _references, evaluate_set

    lengths = [16000, 30 * 16000, 30 * 16000 + 1, 45 * 16000]  # exactly 30 s is not over the window
    m = make_manifest(tmp_path, ["a", "b", "c", "d"], lengths)
    s = EvalSet(manifest=m, table=tmp_path / "t.parquet", metrics=tmp_path / "m.json")
    t = LengthRecorder()
    metrics = evaluate_set(t, s, _references(m), "basic", first_window=first_window)
    assert metrics["n"] == 4 and metrics["long_clips"] == 2
    if first_window:
        assert metrics["truncated"] == 2 and t.lengths == [16000, 480000, 480000, 480000]
    else:  # sequential long-form decoding sees every sample
        assert metrics["truncated"] == 0 and t.lengths == lengths
    assert metrics["audio_seconds"] == pytest.approx(sum(lengths) / 16000, abs=1e-3)  # the whole clips count


def test_wer_per_category_by_hand(tmp_path):
    from udistil.evaluate.evaluation import EvalSet, _references, category_scores, evaluate_set

    m = make_manifest(tmp_path, TEXTS, [16000, 8000, 12000])
    frame = pd.read_parquet(m)
    frame["dialect"] = ["NJD", "HJZ", "NJD"]
    frame.to_parquet(m)
    s = EvalSet(manifest=m, table=tmp_path / "t.parquet", metrics=tmp_path / "m.json", category="dialect")
    metrics = evaluate_set(KnownTranscriber(), s, _references(s), "basic")
    # NJD: "the cat sat on the mat" vs "the cat sat on a mat" (1 sub) + "birds sing" vs "" (2 del) = 3 / 8 words
    # HJZ: "a dog ran far away" vs "a dog ran away" (1 del) = 1 / 5 words
    assert metrics["by_category"]["NJD"] == {"wer": round(100 * 3 / 8, 4), "cer": pytest.approx(
        round(100 * (3 + 10) / (22 + 10), 4)), "n": 2}
    assert metrics["by_category"]["HJZ"]["wer"] == pytest.approx(20.0) and metrics["by_category"]["HJZ"]["n"] == 1
    assert metrics["wer"] == pytest.approx(100 * 4 / 13, abs=1e-4)  # the whole set as before
    assert pd.read_parquet(tmp_path / "t.parquet")["category"].tolist() == ["NJD", "HJZ", "NJD"]
    table = pd.DataFrame({"reference_norm": ["a b", "c"], "hypothesis_norm": ["a b", "d"]})
    assert category_scores(table, pd.Series(["x", None]))["(none)"]["wer"] == 100.0
    with pytest.raises(ValueError, match="no column 'region'.*evaluation.categories"):
        _references(EvalSet(manifest=m, table="", metrics="", category="region"))


def test_sequential_long_form_decodes_a_long_clip_with_a_tiny_whisper(tmp_path, tiny_random_whisper):
    from udistil.evaluate.evaluation import EvalSet, evaluate

    m = make_manifest(tmp_path, ["one two", "three"], [35 * 16000, 16000])
    options = decode_options(max_new_tokens=4, long_form=True, batch_size=2)
    s = EvalSet(manifest=m, table=tmp_path / "t.parquet", metrics=tmp_path / "m.json")
    (metrics,) = evaluate(model=str(tiny_random_whisper), sets=[s], options=options, norm_kind="basic", device="cpu",
                          precision="fp32", cache=None, long_clips="sequential")
    assert metrics["n"] == 2 and metrics["long_clips"] == 1 and metrics["truncated"] == 0
    assert len(pd.read_parquet(s.table)) == 2


def test_evaluation_decoding_keeps_pseudo_labelling_apart():
    from tests.helpers import filled_config
    from udistil.evaluate.evaluation import evaluation_decoding
    from udistil.labels.decoding import DecodeOptions

    cfg = filled_config(decoding={"max_new_tokens": 225, "return_timestamps": True})
    assert cfg["evaluation"]["decoding"] == {"precision": None, "max_new_tokens": None, "long_clips": "drop"}
    same = evaluation_decoding(decoding=cfg["decoding"], evaluation=cfg["evaluation"]["decoding"], language="ar",
                               task="transcribe")
    assert same["max_new_tokens"] == 225 and same["return_timestamps"] is False and same["long_form"] is False
    own = {"precision": "fp32", "max_new_tokens": 444, "long_clips": "sequential"}
    options = DecodeOptions.from_section(evaluation_decoding(decoding=cfg["decoding"], evaluation=own,
                                                             language="ar", task="transcribe"))
    assert options.max_new_tokens == 444 and options.long_form and not options.return_timestamps
    assert options.num_beams == cfg["decoding"]["num_beams"] and options.language == "ar"


def test_group_column_travels_from_the_manifest_to_the_bootstrap(tmp_path):
    from udistil.evaluate.evaluation import EvalSet, _references, evaluate_set
    from udistil.results.intervals import Bootstrap
    from udistil.results.table_io import load_tables

    m = make_manifest(tmp_path, TEXTS, [16000, 8000, 12000])
    frame = pd.read_parquet(m)
    frame["group"] = ["reader-a", "reader-b", "reader-a"]
    frame.to_parquet(m)
    (tmp_path / "known" / "c").mkdir(parents=True)
    s = EvalSet(manifest=m, table=tmp_path / "known" / "c" / "test.parquet", metrics=tmp_path / "m.json")
    evaluate_set(KnownTranscriber(), s, _references(s), "basic")
    tables = load_tables([str(s.table)])
    assert tables[("known", "c", "test")]["group"].tolist() == ["reader-a", "reader-b", "reader-a"]
    w = Bootstrap(tables, 50, 0).weights("c", "test")
    reader_a = w[:, 0] + w[:, 2]  # reader-a drawn k times brings 2k of its utterances
    assert (reader_a % 2 == 0).all() and (reader_a // 2 + w[:, 1] == 2).all()  # two readers drawn
