"""The Hugging Face hub cache: which repos it holds (no network), and the `fetch` job's downloads into it.

The cache is huggingface_hub's own (`HF_HUB_CACHE`, by default `$HF_HOME/hub`), the one `from_pretrained` and the
hf corpus reader read, so a job sees what `fetch` wrote when both run with the same HF_HOME. huggingface_hub is
imported inside functions: it reads HF_HUB_OFFLINE, HF_ENDPOINT and HF_HUB_CACHE once, when first imported, so a
process sets them (udistil.common.logs.set_offline) before the first call here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from udistil.common.fileio import read_json, write_json

REVISION = "main"
"""The revision fetched and read: the config has no revision keys (models.<name>.revision is refused)."""

MODEL_IGNORE = ("*.h5", "*.msgpack", "*.ot", "*.onnx", "*.onnx_data", "*.tflite", "*.mlmodel", "onnx/*",
                "coreml/*", "openvino/*")
"""A model repo's files in formats other than PyTorch's (TensorFlow, Flax, Rust, ONNX, Core ML, OpenVINO): not
fetched, since from_pretrained reads none of them (openai/whisper-large-v2 ships its weights four times over)."""

log = logging.getLogger("udistil.hub")


@dataclass(frozen=True)
class HubRepo:
    """One hub repo a config names, with the config key that names it."""

    key: str  # e.g. "models.whisper-large-v2.hub", "corpora.fleurs.path"
    repo_id: str
    repo_type: str  # "model" or "dataset"


def cache_dir() -> str:
    """The hub cache this process reads and writes (HF_HUB_CACHE, else $HF_HOME/hub)."""
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def cached_snapshot(repo_id: str, repo_type: str, cache: str | Path | None = None) -> Path | None:
    """The cached snapshot folder of the repo's `main` revision, or None; reads the disk only. A snapshot that a
    download listed (its tree file) must hold every listed file `download` fetches; one that from_pretrained
    filled with the files it read counts as cached (huggingface_hub cannot tell which files it lacks)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, repo_type=repo_type, revision=REVISION, cache_dir=cache,
                                      local_files_only=True, ignore_patterns=_ignored(repo_type)))
    except LocalEntryNotFoundError:  # IncompleteSnapshotError is one too
        return None


def uncached(repos: Iterable[HubRepo], cache: str | Path | None = None) -> list[HubRepo]:
    """The repos (keys in the given order) whose snapshot is not in the cache."""
    found: dict[tuple[str, str], bool] = {}
    missing = []
    for repo in repos:
        where = (repo.repo_id, repo.repo_type)
        if where not in found:
            found[where] = cached_snapshot(repo.repo_id, repo.repo_type, cache) is not None
        if not found[where]:
            missing.append(repo)
    return missing


def download(repo_id: str, repo_type: str, cache: str | Path | None = None, endpoint: str | None = None) -> Path:
    """The files of the repo's `main` revision into the cache (snapshot_download; a model's without
    MODEL_IGNORE); its snapshot folder."""
    from huggingface_hub import constants, snapshot_download

    if constants.is_offline_mode():
        raise RuntimeError("HF_HUB_OFFLINE is set in this process, so nothing can be downloaded: unset it "
                           "(the fetch job does, before huggingface_hub is imported)")
    return Path(snapshot_download(repo_id, repo_type=repo_type, revision=REVISION, cache_dir=cache,
                                  endpoint=endpoint, ignore_patterns=_ignored(repo_type)))


def _ignored(repo_type: str) -> list[str] | None:
    return list(MODEL_IGNORE) if repo_type == "model" else None


def fetch_repos(repos: Iterable[HubRepo], cache: str | Path | None = None,
                endpoint: str | None = None) -> list[dict[str, Any]]:
    """Download each repo once (several config keys may name it); one record per repo: its keys, id, type,
    revision, commit sha and snapshot folder. Every repo is tried; then one error names each that failed."""
    keys: dict[tuple[str, str], list[str]] = {}
    for repo in repos:
        keys.setdefault((repo.repo_id, repo.repo_type), []).append(repo.key)
    records, failed = [], []
    for (repo_id, repo_type), names in keys.items():
        log.info("fetching %s %s (%s)", repo_type, repo_id, ", ".join(names))
        try:
            folder = download(repo_id, repo_type, cache, endpoint)
        except Exception as err:  # noqa: BLE001 - every repo is tried, then all failures are reported together
            log.error("could not fetch %s %s (%s): %s: %s", repo_type, repo_id, ", ".join(names),
                      type(err).__name__, err)
            failed.append(f"{repo_type} {repo_id} ({', '.join(names)}): {type(err).__name__}: {err}")
            continue
        log.info("fetched %s %s at %s into %s", repo_type, repo_id, folder.name, folder)
        records.append({"keys": names, "repo": repo_id, "type": repo_type, "revision": REVISION,
                        "sha": folder.name, "folder": str(folder)})
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(keys)} hub repos could not be fetched (a gated repo needs "
                           "`hf auth login` and its terms accepted on the hub):\n  " + "\n  ".join(failed))
    return records


def run_fetch(*, repos: list[dict[str, str]], out: str, parts: list[str]) -> None:
    """The fetch job: download `repos` (HubRepo fields), then write the record `out` with the cache folder and
    the records of the other fetch jobs (`parts`: JSON files, e.g. the SONAR encoders')."""
    hub = fetch_repos([HubRepo(**r) for r in repos])
    record: dict[str, Any] = {"cache": cache_dir(), "hub": hub}
    for part in parts:
        record.update(read_json(part))
    write_json(record, out)
