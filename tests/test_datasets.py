"""The filtered data as Hugging Face datasets (udistil.results.datasets), on recorded speech: a pool's manifest,
pseudo-labels, scores and real selections, written and read back with `datasets.load_from_disk`."""

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from udistil.corpora.manifest import build_manifest
from udistil.corpora.packaged import packaged_records
from udistil.results.datasets import write_pool_dataset, write_subset_dataset
from udistil.scores import write_score
from udistil.scores.teacher import teacher_score
from udistil.selection.select import run_select

FILTERS = {"none": ([], {"mode": "all"}), "conf": (["conf"], {"mode": "fraction", "value": 0.5}),
           "proxy": (["proxy"], {"mode": "threshold", "value": 0.5})}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Ten recorded utterances as a pool: manifest, pseudo-labels (one empty), the conf and proxy scores, and the
    subsets three filters select from them."""
    tmp = tmp_path_factory.mktemp("pool")
    records = packaged_records("pool", ["librivox-austen", "pocketsphinx-cards"], {"train": 1.0}, "train")
    build_manifest(records=records, corpus="pool", split="train", audio_dir=tmp / "audio",
                   manifest_path=tmp / "manifest.parquet", rejected_path=tmp / "rejected.tsv")
    m = pd.read_parquet(tmp / "manifest.parquet")
    rng = np.random.default_rng(0)
    labels = pd.DataFrame({"id": m["id"], "pseudo_label": [t.upper() for t in m["text"]],
                           "mean_logprob": -rng.random(len(m)), "n_tokens": rng.integers(1, 20, len(m)),
                           "compression_ratio": 1 + rng.random(len(m))})
    labels.loc[3, "pseudo_label"] = ""
    labels["conf"], labels["entropy"] = np.exp(labels["mean_logprob"]), rng.random(len(m))
    labels.to_parquet(tmp / "labels.parquet")
    write_score(teacher_score(labels, "conf"), "conf", tmp / "conf.parquet")
    write_score(pd.DataFrame({"id": m["id"], "score": rng.random(len(m)), "reason": None}), "proxy",
                tmp / "proxy.parquet")
    for name, (scores, rule) in FILTERS.items():
        run_select(labels=tmp / "labels.parquet", manifest=tmp / "manifest.parquet",
                   score_paths=[str(tmp / f"{s}.parquet") for s in scores], rule=rule, filter_name=name,
                   norm_kind="english", out_subset=tmp / "subsets" / f"{name}.parquet",
                   out_stats=tmp / "subsets" / f"{name}.json")
    return tmp


def write_pool(tmp, out, manifest="manifest.parquet"):
    return write_pool_dataset(manifest=tmp / manifest, labels=tmp / "labels.parquet", pool="pool",
                              score_paths=[str(tmp / "conf.parquet"), str(tmp / "proxy.parquet")],
                              teacher="tiny-teacher", language="en", out_dir=out)


def samples(audio):
    data, sr = sf.read(io.BytesIO(audio["bytes"]), dtype="float32")
    assert sr == 16000
    return data


def test_pool_and_subsets_load_from_disk_with_the_selected_ids_and_the_manifests_audio(pool, tmp_path):
    import datasets

    write_pool(pool, tmp_path / "ds" / "all")
    for name, (scores, _) in FILTERS.items():
        write_subset_dataset(pool_dir=tmp_path / "ds" / "all", subset=pool / "subsets" / f"{name}.parquet",
                             stats=pool / "subsets" / f"{name}.json", pool="pool", filter_name=name, scores=scores,
                             language="en", out_dir=tmp_path / "ds" / name)
    shutil.move(tmp_path / "ds", tmp_path / "moved")  # embedded audio: the folders stay valid where they go
    m = pd.read_parquet(pool / "manifest.parquet")
    labels = pd.read_parquet(pool / "labels.parquet")
    ds = datasets.load_from_disk(str(tmp_path / "moved" / "all"))
    assert ds["id"][:] == m["id"].tolist() and len(ds) == 10
    assert ds.features["audio"] == datasets.Audio(sampling_rate=16000)
    assert ds.column_names == ["audio", "id", "text", "whisper_transcript", "duration_s", "mean_logprob", "conf",
                               "entropy", "n_tokens", "compression_ratio", "score_conf", "score_proxy"]
    assert ds["text"][:] == m["text"].tolist() and ds["whisper_transcript"][:] == labels["pseudo_label"].tolist()
    assert ds["n_tokens"][:] == labels["n_tokens"].tolist() and ds["conf"][:] == labels["conf"].tolist()
    assert ds["score_conf"][3] == -np.inf and ds["conf"][3] == labels["conf"][3]  # the empty label's worst score
    assert ds["score_proxy"][:] == pd.read_parquet(pool / "proxy.parquet")["score"].tolist()
    raw = ds.cast_column("audio", datasets.Audio(decode=False))  # no torchcodec: soundfile reads the bytes
    for row, (_, clip) in zip(raw, m.iterrows(), strict=True):
        assert np.array_equal(samples(row["audio"]), sf.read(clip["audio"], dtype="float32")[0])
    assert "tiny-teacher" in ds.info.description
    kept_somewhere = set()
    for name in FILTERS:
        subset = datasets.load_from_disk(str(tmp_path / "moved" / name))
        selected = pd.read_parquet(pool / "subsets" / f"{name}.parquet")["id"].tolist()
        assert subset["id"][:] == selected and subset.features == ds.features
        assert subset["score_proxy"][:] == [ds["score_proxy"][m["id"].tolist().index(i)] for i in selected]
        card = (tmp_path / "moved" / name / "README.md").read_text()
        assert f"filter `{name}`" in card and f"| kept_clips | {len(selected)} |" in card
        kept_somewhere |= set(selected)
    assert m["id"][3] not in kept_somewhere and 0 < len(datasets.load_from_disk(str(tmp_path / "moved" / "conf"))) < 9
    assert "threshold" in (tmp_path / "moved" / "proxy" / "README.md").read_text()


def test_a_pool_without_ground_truth_has_null_text(pool, tmp_path):
    import datasets

    m = pd.read_parquet(pool / "manifest.parquet").assign(text=None)
    m.to_parquet(pool / "unlabelled.parquet")
    write_pool(pool, tmp_path / "all", manifest="unlabelled.parquet")
    ds = datasets.load_from_disk(str(tmp_path / "all")).cast_column("audio", datasets.Audio(decode=False))
    assert ds["text"][:] == [None] * len(m) and ds.features["text"] == datasets.Value("string")
    assert [a["path"] for a in ds["audio"]] == [Path(p).name for p in m["audio"]]  # the file name: the format
    assert "no (`text` is null)" in (tmp_path / "all" / "README.md").read_text()


def test_bad_inputs_are_named_and_leave_no_folder(pool, tmp_path):
    m = pd.read_parquet(pool / "manifest.parquet")
    m.loc[2, "audio"] = str(tmp_path / "gone.wav")
    m.to_parquet(tmp_path / "m.parquet")
    shutil.copy(pool / "labels.parquet", tmp_path)
    shutil.copy(pool / "conf.parquet", tmp_path)
    shutil.copy(pool / "proxy.parquet", tmp_path)
    with pytest.raises(FileNotFoundError, match=f"manifest row '{m['id'][2]}'.*gone.wav"):
        write_pool(tmp_path, tmp_path / "out" / "all", manifest="m.parquet")
    assert list((tmp_path / "out").iterdir()) == []  # no dataset, no temporary folder left
    write_pool(pool, tmp_path / "out" / "all")
    pd.DataFrame({"id": ["nope"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="bad.parquet: 1 ids are not in the pool's dataset"):
        write_subset_dataset(pool_dir=tmp_path / "out" / "all", subset=tmp_path / "bad.parquet",
                             stats=pool / "subsets" / "none.json", pool="pool", filter_name="none", scores=[],
                             language="en",
                             out_dir=tmp_path / "out" / "none")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["all"]


def test_a_filter_that_keeps_nothing_gives_an_empty_dataset_that_loads(pool, tmp_path):
    import datasets

    run_select(labels=pool / "labels.parquet", manifest=pool / "manifest.parquet",
               score_paths=[str(pool / "proxy.parquet")], rule={"mode": "threshold", "value": -1.0},
               filter_name="proxy", norm_kind="english", out_subset=tmp_path / "proxy.parquet",
               out_stats=tmp_path / "proxy.json")
    write_pool(pool, tmp_path / "all")
    write_subset_dataset(pool_dir=tmp_path / "all", subset=tmp_path / "proxy.parquet", stats=tmp_path / "proxy.json",
                         pool="pool", filter_name="proxy", scores=["proxy"], language="en", out_dir=tmp_path / "proxy")
    empty = datasets.load_from_disk(str(tmp_path / "proxy"))
    assert len(empty) == 0 and empty.features == datasets.load_from_disk(str(tmp_path / "all")).features
    assert "Kept 0 of 10 clips" in (tmp_path / "proxy" / "README.md").read_text()
