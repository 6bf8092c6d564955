"""Kaldi/ESPnet data directories: `wav.scp` (recording id -> audio file), and optionally `text` (utterance id ->
transcript), `segments` (utterance id, recording id, start and end in seconds: utterances cut from a recording)
and `utt2spk` (utterance id -> speaker, the manifest's `group`).

Only plain file paths are read from wav.scp (relative ones are relative to the data directory): a command
(`sox ... |`) or an archive offset (`x.ark:123`) is an error naming its line, since udistil runs no command from a
data file. A segment's samples are [round(start * rate), round(end * rate)) of its recording, at the recording's
own rate, then converted to 16 kHz mono; one that ends after its recording is truncated when it overshoots by at
most MAX_OVERSHOOT_S (as Kaldi's extract-segments) and rejected otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

from udistil.corpora.manifest import ManifestError, Record

PIPE = re.compile(r"\|\s*$|^\s*-\s*$")
ARCHIVE = re.compile(r"\.ark:\d+$")


def kaldi_lines(path: Path, *, value_needed: bool = True) -> dict[str, tuple[str, int]]:
    """key -> (the rest of its line, line number) of a Kaldi table file; duplicate keys and (when
    `value_needed`) lines without a value are errors naming the file and line."""
    table: dict[str, tuple[str, int]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, *rest = line.split(maxsplit=1)
        value = rest[0].strip() if rest else ""
        if value_needed and not value:
            raise ManifestError(f"{path}:{n}: '{key}' has no value")
        if key in table:
            raise ManifestError(f"{path}:{n}: '{key}' listed again (first on line {table[key][1]})")
        table[key] = (value, n)
    return table


def recordings(folder: Path) -> dict[str, tuple[Path, str]]:
    """Recording id -> (audio file, `wav.scp:line`), refusing commands and archives."""
    scp = folder / "wav.scp"
    found = {}
    for rec, (value, n) in kaldi_lines(scp).items():
        where = f"{scp}:{n}"
        if PIPE.search(value):
            raise ManifestError(f"{where}: recording '{rec}' is a command ({value!r}); udistil runs no command from "
                                "wav.scp: write the audio to files (e.g. with sox or ffmpeg) and list their paths")
        if ARCHIVE.search(value):
            raise ManifestError(f"{where}: recording '{rec}' is an archive offset ({value!r}); list audio files")
        path = Path(value) if Path(value).is_absolute() else folder / value
        if not path.is_file():
            raise ManifestError(f"{where}: recording '{rec}': audio file not found: {path}")
        found[rec] = (path, where)
    return found


def segments(folder: Path, recs: dict[str, tuple[Path, str]]) -> list[tuple[str, str, float, float, str]]:
    """(utterance, recording, start, end, `segments:line`) of each line of `segments`, checked."""
    path = folder / "segments"
    out = []
    for utt, (value, n) in kaldi_lines(path).items():
        where = f"{path}:{n}"
        fields = value.split()
        if len(fields) != 3:
            raise ManifestError(f"{where}: expected '<utterance> <recording> <start> <end>', got {utt} {value}")
        rec, start, end = fields
        if rec not in recs:
            raise ManifestError(f"{where}: recording '{rec}' is not in wav.scp")
        try:
            start_s, end_s = float(start), float(end)
        except ValueError as exc:
            raise ManifestError(f"{where}: start and end must be seconds ({exc})") from exc
        if not 0 <= start_s < end_s:
            raise ManifestError(f"{where}: needs 0 <= start < end (got {start_s:g}, {end_s:g})")
        out.append((utt, rec, start_s, end_s, where))
    return out


def _check_covers(table: dict[str, tuple[str, int]], utts: list[str], path: Path) -> None:
    """Every utterance has a line in `table` and every line names an utterance, or an error naming them."""
    missing = [u for u in utts if u not in table]
    known = set(utts)
    extra = [f"{k} (line {n})" for k, (_, n) in table.items() if k not in known]
    if missing:
        raise ManifestError(f"{path}: no line for {len(missing)} utterances: {', '.join(missing[:10])}"
                            + (" ..." if len(missing) > 10 else ""))
    if extra:
        raise ManifestError(f"{path}: {len(extra)} lines name no utterance of wav.scp/segments: "
                            f"{', '.join(extra[:10])}" + (" ..." if len(extra) > 10 else ""))


def kaldi_records(folder: str | Path, with_text: bool = True) -> list[Record]:
    """The utterances of a Kaldi data directory: its segments, or without `segments` its whole recordings; text
    from `text` (when present and `with_text`), the speaker from `utt2spk` as `group`. Both files, when present,
    must have exactly one line per utterance."""
    folder = Path(folder)
    if not (folder / "wav.scp").is_file():
        raise ManifestError(f"not a Kaldi data directory (no wav.scp): {folder}")
    recs = recordings(folder)
    if (folder / "segments").is_file():
        utts = [(utt, recs[rec][0], start, end, where) for utt, rec, start, end, where in segments(folder, recs)]
    else:
        utts = [(rec, path, None, None, where) for rec, (path, where) in recs.items()]
    ids = [u[0] for u in utts]
    texts = _optional(folder / "text", ids, value_needed=False) if with_text else None
    speakers = _optional(folder / "utt2spk", ids, value_needed=True)
    return [Record(id=utt, source=path, text=" ".join(texts[utt][0].split()) if texts is not None else None,
                   meta={"group": speakers[utt][0]} if speakers is not None else {},
                   start_s=start, end_s=end, origin=where) for utt, path, start, end, where in utts]


def _optional(path: Path, ids: list[str], *, value_needed: bool) -> dict[str, tuple[str, int]] | None:
    if not path.is_file():
        return None
    table = kaldi_lines(path, value_needed=value_needed)
    _check_covers(table, ids, path)
    return table
