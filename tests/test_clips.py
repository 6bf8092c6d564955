"""udistil.common.clips: clips read batch by batch, a bounded number of batches ahead, in the decoder's length order."""

import numpy as np
import pandas as pd
import pytest

from tests.helpers import decode_options
from udistil.common import clips as clips_module
from udistil.common.clips import PREFETCH, Clips, batches
from udistil.corpora.manifest import ManifestError, Record, build_manifest, manifest_clips, read_manifest
from udistil.labels.decoding import Transcriber


@pytest.fixture
def manifest(tmp_path):
    rng = np.random.default_rng(3)
    lengths = [8000, 24000, 12000, 24000, 4000, 16000, 20000]  # two of equal length keep their input order
    records = [Record(id=f"u{i}", source=(rng.standard_normal(n) * 0.1).astype(np.float32))
               for i, n in enumerate(lengths)]
    build_manifest(records=records, corpus="c", split="s", audio_dir=tmp_path / "audio",
                   manifest_path=tmp_path / "m.parquet", rejected_path=tmp_path / "r.tsv")
    return tmp_path / "m.parquet"


class ReadLog:
    """Records which clips are read, and when (relative to the batches the consumer has finished)."""

    def __init__(self, monkeypatch):
        self.reads: list[str] = []
        real = clips_module.read_clip

        def read(path, desc):
            self.reads.append(path)
            return real(path, desc)

        monkeypatch.setattr(clips_module, "read_clip", read)


def test_lazy_clips_read_nothing_until_asked_and_cut_to_max_samples(manifest, monkeypatch):
    log = ReadLog(monkeypatch)
    m = read_manifest(manifest)
    clips = manifest_clips(m, "m", max_samples=10000)
    assert len(clips) == 7 and log.reads == []
    assert [clips.length(i) for i in range(3)] == [0.5, 0.625, 0.625]  # durations, cut at 10000 samples
    assert [len(a) for a in clips] == [8000, 10000, 10000, 10000, 4000, 10000, 10000]
    assert len(log.reads) == 7 and isinstance(clips[2:4], Clips) and len(clips.subset([0, 6])) == 2


def test_batches_read_at_most_a_few_batches_ahead(manifest, monkeypatch):
    log = ReadLog(monkeypatch)
    clips = manifest_clips(read_manifest(manifest), "m")
    order = [[i] for i in range(7)]
    for k, (idx, audio, _) in enumerate(batches(clips, order, workers=0)):
        assert idx == [k] and len(audio) == 1
        assert len(log.reads) <= k + 1 + PREFETCH  # never the whole manifest ahead of the consumer


def test_worker_processes_give_the_same_batches_in_order(manifest):
    clips = manifest_clips(read_manifest(manifest), "m")
    order = [[3, 1], [0], [6, 5, 4], [2]]
    threads = [(idx, [a.tolist() for a in audio], n) for idx, audio, n in batches(clips, order, workers=0, prepare=len)]
    workers = [(idx, [a.tolist() for a in audio], n) for idx, audio, n in batches(clips, order, workers=2, prepare=len)]
    assert workers == threads and [idx for idx, _, _ in threads] == order
    assert [n for _, _, n in threads] == [2, 1, 3, 1]  # `prepare` ran on each batch's clips, in the workers too


def test_no_more_workers_start_than_there_are_batches(manifest, monkeypatch):
    import torch.utils.data

    started = []
    plain = torch.utils.data.DataLoader

    def loader(*args, num_workers, **kwargs):
        started.append(num_workers)
        return plain(*args, num_workers=num_workers, **kwargs)

    monkeypatch.setattr(torch.utils.data, "DataLoader", loader)
    clips = manifest_clips(read_manifest(manifest), "m")
    one = [(idx, [a.tolist() for a in audio]) for idx, audio, _ in batches(clips, [[3, 1, 0]], workers=4)]
    assert started == [1] and one == [([3, 1, 0], [clips[i].tolist() for i in (3, 1, 0)])]
    list(batches(clips, [[0], [1], [2]], workers=2))
    assert started == [1, 2]


def test_transcriber_gives_the_same_results_from_lazy_clips(manifest, tiny_random_whisper, monkeypatch):
    from udistil.models.encoder_cache import Encoder

    featurised_ahead = []
    plain_features = Encoder.features

    def features(self, audios):
        featurised_ahead.append(bool(self.ready) and all(id(a) in self.ready for a in audios))
        return plain_features(self, audios)

    monkeypatch.setattr(Encoder, "features", features)
    m = read_manifest(manifest)
    clips = manifest_clips(m, "m")
    in_memory = [clips[i] for i in range(len(clips))]
    seen: dict[str, list[list[int]]] = {"memory": [], "lazy": [], "workers": []}
    out = {}
    for name, audios, workers in [("memory", in_memory, 0), ("lazy", clips, 0), ("workers", clips, 2)]:
        t = Transcriber.load(str(tiny_random_whisper), decode_options(max_new_tokens=4, batch_size=3, with_stats=True,
                                                                  loader_workers=workers),
                        device="cpu", precision="fp32", cache=None)
        featurised_ahead.clear()
        hyps = t.transcribe(audios, on_batch=lambda idx, hyps, name=name: seen[name].append(idx))
        out[name] = [(h.token_ids, h.conf) for h in hyps]
        assert featurised_ahead and featurised_ahead == [workers > 0] * len(featurised_ahead)  # by workers, or here
    assert out["lazy"] == out["memory"] == out["workers"]
    assert seen["lazy"] == seen["memory"] == seen["workers"] == [[1, 3, 6], [5, 2, 0], [4]]  # longest first


def test_a_missing_file_is_named_before_anything_is_read(manifest, tmp_path):
    m = pd.read_parquet(manifest)
    m.loc[2, "audio"] = str(tmp_path / "gone.wav")
    with pytest.raises(ManifestError, match=r"gone.wav \(pool\) does not exist"):
        manifest_clips(m, "pool")
    with pytest.raises(ManifestError, match=r"gone.wav \(files\) does not exist"):
        Clips.from_files(m["audio"], "files")
    assert Clips.from_files(m["audio"][:2], "files").durations == (0.5, 1.5)


def test_sonar_reads_a_chunk_of_clips_when_it_embeds_it(manifest, monkeypatch):
    import sys
    import types

    from udistil.scores import sonar

    log = ReadLog(monkeypatch)
    chunks: list[int] = []

    class Speech:
        def __init__(self, **kw):
            pass

        def predict(self, waves, batch_size):
            chunks.append(len(log.reads))  # clips read when this chunk is embedded
            return np.array([[float(w.abs().mean()), len(w[0]) / 16000] for w in waves])

    class Text(Speech):
        def predict(self, texts, source_lang, batch_size):
            return np.array([[0.1, float(len(t))] for t in texts])

    monkeypatch.setitem(sys.modules, "sonar.inference_pipelines.speech", types.SimpleNamespace(
        SpeechToEmbeddingModelPipeline=Speech))
    monkeypatch.setitem(sys.modules, "sonar.inference_pipelines.text", types.SimpleNamespace(
        TextToEmbeddingModelPipeline=Text))
    m = read_manifest(manifest)
    labels = pd.DataFrame({"id": m["id"], "pseudo_label": ["a", "", "bb", "c", "dd", "e", "ff"]})
    kw = dict(speech_encoder="s", text_encoder="t", text_lang="eng_Latn", device="cpu")
    lazy = sonar.sonar_score(labels, manifest_clips(m, "m"), **kw)
    assert chunks == [6]  # read for its chunk, and only the 6 clips with a pseudo-label
    in_memory = sonar.sonar_score(labels, [manifest_clips(m, "m")[i] for i in range(7)], **kw)
    assert lazy.equals(in_memory) and lazy["reason"].tolist()[1] == "empty pseudo-label"

