"""Hub models and datasets fetched once (`snakemake fetch`) for a cluster whose nodes are offline: what a config
takes from the hub, the cache look-up, the hf reader offline, and the workflow against a local stand-in for the
hub (tests/fake_hub.py) that is stopped before the offline run."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.fake_hub import FakeHub
from tests.helpers import corpus_spec, filled_config
from udistil.common.hub import HubRepo, cached_snapshot, fetch_repos, uncached
from udistil.config.validate import filled
from udistil.corpora.records import corpus_records
from udistil.plan import hub
from udistil.plan.layout import Layout

ROOT = Path(__file__).resolve().parent.parent
MODEL_REPO, DATA_REPO = "test-org/tiny-whisper", "test-org/tiny-speech"


# ---- what a config takes from the hub (pure) ------------------------------------------------------------------


def test_the_paper_config_fetches_each_hub_model_and_dataset_under_its_key():
    cfg = filled(ROOT / "configs" / "paper.yaml")
    repos = hub.hub_repos(cfg)
    assert [r for r in repos if r.repo_type == "model"] == [
        HubRepo(f"models.{name}.hub", spec["hub"], "model") for name, spec in cfg["models"].items()]
    assert [r for r in repos if r.repo_type == "dataset"] == [
        HubRepo(f"corpora.{name}.path", spec["path"], "dataset") for name, spec in cfg["corpora"].items()]
    assert HubRepo("corpora.fleurs.path", "google/fleurs", "dataset") in repos
    assert len(repos) == len(cfg["models"]) + len(cfg["corpora"])  # every model and corpus there is on the hub
    sonar = cfg["scores"]["sonar"]
    assert hub.sonar_encoders(cfg) == {"speech_encoder": sonar["speech_encoder"],
                                       "text_encoder": sonar["text_encoder"]}


def test_packaged_random_local_and_saved_inputs_need_no_fetch(tmp_path):
    demo = filled(ROOT / "config.yaml")
    assert hub.hub_repos(demo) == [] and hub.sonar_encoders(demo) == {}  # the stand-in needs no SONAR encoders
    cfg = filled_config(models={"tiny-teacher": {"random": "whisper"}, "local": {"path": str(tmp_path)},
                                "lm": {"hub": "org/lm"}},
                        corpora={"pool": {"type": "hf", "path": str(tmp_path), "from_disk": True,
                                          "splits": {"train": "train"}},
                                 "clean": {"type": "hf", "path": "org/clean", "splits": {"test": "test"}}})
    assert hub.hub_repos(cfg) == [HubRepo("models.lm.hub", "org/lm", "model"),
                                  HubRepo("corpora.clean.path", "org/clean", "dataset")]


def test_only_the_download_rules_run_without_the_cache():
    assert not hub.needs_cache(["fetch"]) and not hub.needs_cache(["fetch", "fetch_sonar"])
    assert hub.needs_cache(["fetch", "run_config"]) and hub.needs_cache(["manifest"])


def test_the_offline_message_names_each_key_and_the_fetch_command():
    missing = [HubRepo("models.big.hub", "org/big", "model"), HubRepo("corpora.ev.path", "org/ev set", "dataset")]
    text = hub.offline_message(missing, "/cache/hub", ["configs/my run.yaml"])
    assert "config key 'models.big.hub': model org/big" in text
    assert "config key 'corpora.ev.path': dataset org/ev set" in text
    assert "(/cache/hub)" in text and "snakemake fetch --configfile 'configs/my run.yaml'" in text


# ---- a local stand-in for the hub --------------------------------------------------------------------------------


def write_dataset_repo(folder: Path) -> Path:
    """A hub dataset repo as `push_to_hub` writes one: parquet files of real recorded speech (pocketsphinx's
    test utterances) under a README that declares the config `cards` and its splits."""
    import datasets

    from udistil.corpora.packaged import dataset_records

    records = sorted(dataset_records("pocketsphinx-cards"), key=lambda r: r.id)
    (folder / "cards").mkdir(parents=True)
    for split, rows in (("train", records[:3]), ("test", records[3:])):
        ds = datasets.Dataset.from_dict({"audio": [{"bytes": r.source, "path": f"{r.id}.wav"} for r in rows],
                                         "text": [r.text for r in rows], "key": [r.id for r in rows]})
        ds.cast_column("audio", datasets.Audio()).to_parquet(str(folder / "cards" / f"{split}-00000-of-00001.parquet"))
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: cards\n  data_files:\n"
                                      "  - split: train\n    path: cards/train-*.parquet\n"
                                      "  - split: test\n    path: cards/test-*.parquet\n---\n# tiny speech\n")
    return folder


@pytest.fixture(scope="module")
def repos(tmp_path_factory, tiny_random_whisper) -> dict[tuple[str, str], Path]:
    data = write_dataset_repo(tmp_path_factory.mktemp("dataset-repo"))
    model = tmp_path_factory.mktemp("model-repo") / "tiny-whisper"
    shutil.copytree(tiny_random_whisper, model)
    (model / "tf_model.h5").write_bytes(b"TensorFlow weights, which from_pretrained does not read")
    return {("model", MODEL_REPO): model, ("dataset", DATA_REPO): data}


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """This process's hub and datasets caches under tmp_path, and downloads allowed (conftest sets offline)."""
    import datasets
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    return cache


def test_fetch_fills_the_cache_that_the_offline_reader_reads(repos, hub_cache, monkeypatch):
    import datasets
    from huggingface_hub import constants

    wanted = [HubRepo("models.teacher.hub", MODEL_REPO, "model"), HubRepo("models.again.hub", MODEL_REPO, "model"),
              HubRepo("corpora.speech.path", DATA_REPO, "dataset")]
    assert uncached(wanted) == wanted
    with FakeHub(repos) as server:
        records = fetch_repos(wanted, endpoint=server.url)
    assert [(r["repo"], r["type"], r["keys"]) for r in records] == [
        (MODEL_REPO, "model", ["models.teacher.hub", "models.again.hub"]),  # once for both keys
        (DATA_REPO, "dataset", ["corpora.speech.path"])]
    for r in records:
        assert r["sha"] == server.commits[(r["type"], r["repo"])] and Path(r["folder"]).parent.name == "snapshots"
        files = sorted(p.relative_to(r["folder"]).as_posix() for p in Path(r["folder"]).rglob("*") if p.is_file())
        served = sorted(server.repos[(r["type"], r["repo"])])
        assert files == [f for f in served if f != "tf_model.h5"]  # TensorFlow weights left out
    assert (Path(records[0]["folder"]) / "model.safetensors").is_file()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the server is stopped, and the process offline
    assert uncached(wanted) == []
    assert cached_snapshot(MODEL_REPO, "model") == Path(records[0]["folder"])
    with pytest.raises(ConnectionError):  # why the reader resolves the snapshot: datasets alone reads no hub cache
        datasets.load_dataset(DATA_REPO, "cards", split="test")
    spec = corpus_spec({"type": "hf", "path": DATA_REPO, "name": "cards", "splits": {"test": "test"},
                        "id_column": "key"})
    for streaming in (False, True):
        rows = list(corpus_records(name="speech", spec={**spec, "streaming": streaming}, split="test", seed=0))
        assert [r.id for r in rows] == ["pocketsphinx-cards-004", "pocketsphinx-cards-005"]
        assert all(isinstance(r.source, bytes) and r.source[:4] == b"RIFF" and r.text for r in rows)


def test_a_repo_that_cannot_be_fetched_fails_the_fetch_after_the_others(repos, hub_cache):
    wanted = [HubRepo("models.gone.hub", "test-org/gone", "model"), HubRepo("corpora.speech.path", DATA_REPO,
                                                                           "dataset")]
    with FakeHub(repos) as server, pytest.raises(RuntimeError, match=r"(?s)1 of 2 .*model test-org/gone "
                                                                     r"\(models.gone.hub\): RepositoryNotFound"):
        fetch_repos(wanted, endpoint=server.url)
    assert uncached(wanted) == wanted[:1]  # the other was fetched


def test_an_incomplete_snapshot_is_not_cached(repos, hub_cache):
    with FakeHub(repos) as server:
        [record] = fetch_repos([HubRepo("corpora.speech.path", DATA_REPO, "dataset")], endpoint=server.url)
    (Path(record["folder"]) / "cards" / "test-00000-of-00001.parquet").unlink()  # an interrupted download
    assert cached_snapshot(DATA_REPO, "dataset") is None


def test_the_offline_reader_names_a_dataset_missing_from_the_cache(hub_cache):
    from udistil.corpora.manifest import ManifestError

    spec = corpus_spec({"type": "hf", "path": "test-org/never-fetched", "splits": {"test": "test"}})
    with pytest.raises(ManifestError, match="never-fetched.*not in the Hugging Face cache.*snakemake fetch"):
        corpus_records(name="x", spec=spec, split="test", seed=0)


# ---- the workflow: fetch online, then run offline with the hub stopped ---------------------------------------


def hub_config(folder: Path, **models) -> Path:
    cfg = {"run": "hub", "offline": True, "teacher": "teacher",
           "models": {"teacher": {"hub": MODEL_REPO}, **models},
           "corpora": {"speech": {"type": "hf", "path": DATA_REPO, "name": "cards", "id_column": "key",
                                  "splits": {"train": "train", "test": "test"}}},
           "pools": ["speech"], "evaluation": {"sets": ["speech"], "splits": ["test"],
                                               "zero_shot": sorted(models)},
           "filters": ["none"], "pseudo_label": {"shards": 1}}
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake(*args, env, cwd):
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "1",
                           "-d", str(cwd), *map(str, args)], cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_fetch_then_an_offline_run_reads_only_the_cache(repos, tmp_path):
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("HF_HUB_CACHE", None)
    layout, config = Layout("hub"), hub_config(tmp_path)
    with FakeHub(repos) as server:
        env["HF_ENDPOINT"] = server.url
        proc = snakemake("fetch", "--configfile", config, env=env, cwd=tmp_path)  # offline: true, nothing cached
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "config key 'models.teacher.hub': model test-org/tiny-whisper" in proc.stderr  # the warning
    record = json.loads((tmp_path / layout.fetched()).read_text())
    assert record["cache"] == str(tmp_path / "hf" / "hub")
    assert [(r["repo"], r["type"], r["sha"]) for r in record["hub"]] == [
        (MODEL_REPO, "model", server.commits[("model", MODEL_REPO)]),
        (DATA_REPO, "dataset", server.commits[("dataset", DATA_REPO)])]
    n_requests = len(server.requests)

    # the hub is gone: the pool's manifest and a job that loads the hub model read the cache only
    shard = layout.pseudo_label_shard("speech", 0)
    proc = snakemake(layout.manifest("speech", "test"), shard, "--configfile", config, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "udistil: warning" not in proc.stderr and len(server.requests) == n_requests
    assert pd.read_parquet(tmp_path / layout.manifest("speech", "train"))["id"].tolist() == [
        "pocketsphinx-cards-001", "pocketsphinx-cards-002", "pocketsphinx-cards-003"]
    assert len(pd.read_parquet(tmp_path / shard)) == 3

    # a model that was never fetched: a dry run warns and plans; a run stops before any job, naming the key
    other = tmp_path / "other"
    other.mkdir()
    config = hub_config(other, absent={"hub": "test-org/absent"})
    dry = snakemake("-n", "--configfile", config, env=env, cwd=other)
    assert dry.returncode == 0 and "config key 'models.absent.hub': model test-org/absent" in dry.stderr
    proc = snakemake(layout.config(), "--configfile", config, env=env, cwd=other)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "ConfigError" in out
    assert "config key 'models.absent.hub': model test-org/absent" in out
    assert f"snakemake fetch --configfile {config}" in out and "models.teacher.hub" not in out.split("ConfigError")[1]
    assert not (other / "results").exists()


def test_sonar_encoders_are_skipped_with_the_reason_where_sonar_space_is_absent(tmp_path, caplog):
    import importlib.util

    from udistil.common.hub import run_fetch
    from udistil.scores.sonar import fetch_encoders

    if importlib.util.find_spec("sonar"):
        pytest.skip("sonar-space is installed here: the job would download the encoders")
    part, out = tmp_path / "fetched" / "sonar.json", tmp_path / "fetched.json"
    part.parent.mkdir()
    fetch_encoders(encoders={"speech_encoder": "enc_speech", "text_encoder": "enc_text"}, out=str(part))
    assert "SONAR encoders enc_speech, enc_text not fetched: sonar-space is not installed" in caplog.text
    run_fetch(repos=[], out=str(out), parts=[str(part)])
    record = json.loads(out.read_text())
    assert record["hub"] == [] and [(s["encoder"], s["status"]) for s in record["sonar"]] == [
        ("enc_speech", "skipped"), ("enc_text", "skipped")]
    assert "envs/sonar.yaml" in record["sonar"][0]["reason"]
