"""Recorded speech read offline from packages' source archives (`type: packaged`)."""

import hashlib

import pandas as pd
import pytest
import soundfile as sf

from tests.helpers import corpus_spec
from udistil.corpora.manifest import ManifestError, Record, build_manifest
from udistil.corpora.packaged import (
    DATASETS,
    archive_link,
    carve,
    download,
    index_urls,
    locate,
    packaged_records,
    pip_settings,
)
from udistil.corpora.records import corpus_records

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
    from udistil.config.validate import ConfigError

    with pytest.raises(ConfigError, match=r"corpora\.extra\.splits\.test"):
        corpus_spec({**SPEC, "splits": {"test": 2}})


PAGE = """<!DOCTYPE html><html><body>
<a href="https://files.example/p/aeneas-1.7.2.0.tar.gz#sha256=aaa">aeneas-1.7.2.0.tar.gz</a><br/>
<a href="../../files/aeneas-1.7.3.0-cp311-cp311-linux_x86_64.whl#sha256=bbb">wheel</a><br/>
<a href="../../files/aeneas-1.7.3.0.tar.gz#sha256=ccc" data-requires-python="&gt;=3">aeneas-1.7.3.0.tar.gz</a>
</body></html>"""


def test_archive_link_picks_the_sdist_by_file_name_with_its_sha256():
    url, digest = archive_link(PAGE, "https://index.example/simple/aeneas/", "aeneas-1.7.3.0.tar.gz")
    assert (url, digest) == ("https://index.example/files/aeneas-1.7.3.0.tar.gz", "ccc")
    assert archive_link(PAGE, "https://index.example/simple/aeneas/", "aeneas-9.tar.gz") is None
    with pytest.raises(RuntimeError, match="no sha256"):
        archive_link('<a href="x/aeneas-9.tar.gz">a</a>', "https://i/", "aeneas-9.tar.gz")


def test_pip_settings_take_the_environment_over_the_download_section_over_global():
    listing = ("global.index-url='https://mirror.example/simple'\n:env:.index-url='https://env.example/simple'\n"
               "download.index-url='https://dl.example/simple'\nglobal.extra-index-url='file:///a/simple file:///b'\n"
               "global.cert='/etc/ca.pem'\ninstall.index-url='https://install-only.example'\n")
    settings = pip_settings(listing)
    assert settings["index-url"] == "https://env.example/simple" and settings["cert"] == "/etc/ca.pem"
    assert index_urls(settings) == ["https://env.example/simple", "file:///a/simple", "file:///b"]
    assert index_urls(pip_settings("")) == ["https://pypi.org/simple"]


def test_fetch_downloads_the_listed_archive_verified_and_refuses_a_wrong_sha256(tmp_path):
    """A file:// index (as pip's extra-index-url may be): the archive is copied, never built."""
    files = tmp_path / "files"
    files.mkdir()
    archive = files / "aeneas-1.7.3.0.tar.gz"
    archive.write_bytes(b"not really a tarball")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (tmp_path / "simple" / "aeneas").mkdir(parents=True)
    (tmp_path / "simple" / "aeneas" / "index.html").write_text(PAGE.replace("ccc", digest))
    settings = {"index-url": (tmp_path / "nowhere").as_uri(), "extra-index-url": (tmp_path / "simple").as_uri()}
    url, sha = locate(DATASETS["librivox-sonnet"], settings)
    assert (url, sha) == (archive.as_uri(), digest)
    download(url, sha, tmp_path / "got.tar.gz", settings)
    assert (tmp_path / "got.tar.gz").read_bytes() == archive.read_bytes()
    with pytest.raises(RuntimeError, match="is not the index's"):
        download(url, "0" * 64, tmp_path / "bad.tar.gz", settings)
    assert not (tmp_path / "bad.tar.gz").exists()
    with pytest.raises(RuntimeError, match="on none of the package indexes"):
        locate(DATASETS["pocketsphinx-cards"], settings)
