"""A long recording cut at its pauses into utterances of at most a given length.

Silence is found by energy, as `librosa.effects.split` does (a frame is silent when its level is more than TOP_DB
below the recording's loudest), with a threshold that also rises above the background: a 10 ms frame is silent
when its level is under the highest of (the loudest frame - TOP_DB), (the background + NOISE_DB) and FLOOR_DB, the
background being the level that NOISE_PERCENTILE % of the frames stay under. A peak-relative threshold alone
misses the pauses of a recording with a noise floor (the LibriVox sonnet: peak -8 dB, pauses -45 dB full scale).
A run of silent frames of at least MIN_PAUSE_S is a pause; the stretches between pauses are speech.

The speech stretches are packed in order into utterances of at most `max_seconds`, each taking the next stretch
while the whole still fits and no long pause comes between, as WhisperX merges voice-activity segments into 30 s
chunks. A stretch longer than `max_seconds` (no pause in it) is cut at its quietest frame in the second half of the
allowed length.

A pause longer than LONG_PAUSE_S always ends an utterance: each side keeps MARGIN_S of it and the rest is a
`silence` piece; so is the silence before the first speech and after the last beyond MARGIN_S, when it is longer
than LONG_PAUSE_S / 2. A shorter pause stays whole inside an utterance, or is cut at its middle between two. A
recording without a frame above the threshold is one `silence` piece, and an utterance with less than MIN_SOUND_S
of frames above it (a click or a cough alone between long pauses) a `fragment` piece. Nothing is lost unaccounted:
the pieces tile the recording, and the manifest lists the silence and fragment pieces in rejected.tsv with their
reason.

Pure numpy, no model: it finds pauses, not speech, so a long stretch of music or noise becomes utterances like any
sound. A voice-activity model (Silero VAD, pyannote) would tell them apart, at the cost of a model and its
dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udistil.common.fileio import SAMPLE_RATE

HOP = SAMPLE_RATE // 100  # 10 ms frames
TOP_DB = 40.0
NOISE_DB = 10.0
NOISE_PERCENTILE = 10
FLOOR_DB = -70.0
MIN_PAUSE_S = 0.3
MARGIN_S = 0.25
LONG_PAUSE_S = 2.0
MIN_SOUND_S = 0.3


@dataclass(frozen=True)
class Piece:
    """Samples [start, end) of a recording: an utterance (`reason` None) or a stretch left out, with why."""

    start: int
    end: int
    reason: str | None = None


def frame_db(audio: np.ndarray) -> np.ndarray:
    """The level (dB full scale) of each 10 ms frame; the last frame padded with zeros."""
    frames = -(-audio.size // HOP)
    padded = np.zeros(frames * HOP, dtype=np.float64)
    padded[: audio.size] = audio
    power = np.square(padded.reshape(frames, HOP)).mean(axis=1)
    return 10 * np.log10(np.maximum(power, 1e-12))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each maximal run of True in a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def silence_threshold(db: np.ndarray) -> float:
    """The level (dB full scale) under which a frame is silent (see the module's doc)."""
    return max(float(db.max()) - TOP_DB, float(np.percentile(db, NOISE_PERCENTILE)) + NOISE_DB, FLOOR_DB)


def speech_stretches(db: np.ndarray, n: int) -> list[tuple[int, int, bool]]:
    """(start, end, joins the one before) of each stretch of speech between pauses, in samples, widened into the
    pauses beside it (see the module's doc); empty when every frame is silent."""
    silent = db < silence_threshold(db)
    pauses = [(a * HOP, min(b * HOP, n)) for a, b in runs(silent)
              if b - a >= MIN_PAUSE_S * 100 or a == 0 or b == len(db)]
    edges = [0] + [x for p in pauses for x in p] + [n]
    speech = [(s, e) for s, e in zip(edges[::2], edges[1::2], strict=True) if e > s]
    margin, long_pause = int(MARGIN_S * SAMPLE_RATE), int(LONG_PAUSE_S * SAMPLE_RATE)
    out = []
    for i, (s, e) in enumerate(speech):
        before = speech[i - 1][1] if i else 0  # where the pause before starts
        after = speech[i + 1][0] if i + 1 < len(speech) else n  # where the pause after ends
        edge_before, edge_after = (long_pause // 2, long_pause // 2) if len(speech) == 1 else (
            long_pause // 2 if i == 0 else long_pause, long_pause // 2 if i + 1 == len(speech) else long_pause)
        start = (before if i == 0 else (before + s) // 2) if s - before <= edge_before else s - margin
        end = (after if i + 1 == len(speech) else (e + after) // 2) if after - e <= edge_after else e + margin
        out.append((start, end, i > 0 and s - before <= long_pause))
    return out


def cut_quietest(start: int, end: int, joins: bool, db: np.ndarray, max_len: int
                  ) -> list[tuple[int, int, bool]]:
    """A stretch [start, end) cut into parts of at most `max_len` samples, each cut in the middle of the quietest
    frame between half and all of the allowed length (the parts after the first join the one before)."""
    parts = []
    while end - start > max_len:
        lo, hi = -(-(start + max_len // 2) // HOP), (start + max_len - HOP // 2) // HOP
        cut = (lo + int(np.argmin(db[lo:hi + 1]))) * HOP + HOP // 2
        parts.append((start, cut, joins))
        start, joins = cut, True
    return parts + [(start, end, joins)]


def pack(stretches: list[tuple[int, int, bool]], max_len: int) -> list[tuple[int, int]]:
    """Consecutive stretches joined, in order, while they may join (no long pause between) and the joined span is
    at most `max_len` samples."""
    joined: list[tuple[int, int]] = []
    for s, e, joins in stretches:
        if joined and joins and e - joined[-1][0] <= max_len:
            joined[-1] = (joined[-1][0], e)
        else:
            joined.append((s, e))
    return joined


def cut_at_pauses(audio: np.ndarray, max_seconds: float) -> list[Piece]:
    """The pieces of a 16 kHz recording (see the module's doc), in order; together they cover every sample."""
    n, max_len = audio.size, int(max_seconds * SAMPLE_RATE)
    db = frame_db(audio)
    stretches = speech_stretches(db, n)
    if not stretches:
        return [Piece(0, n, f"silence: no 10 ms frame above {silence_threshold(db):.1f} dB full scale")]
    parts = [p for s, e, joins in stretches for p in cut_quietest(s, e, joins, db, max_len)]
    sound = db >= silence_threshold(db)
    pieces, pos = [], 0
    for s, e in pack(parts, max_len):
        if s > pos:
            pieces.append(Piece(pos, s, silence_reason(s - pos)))
        heard = int(sound[s // HOP: -(-e // HOP)].sum()) / 100
        pieces.append(Piece(s, e, None if heard >= MIN_SOUND_S else
                            f"fragment: {heard:.2f} s of sound between long pauses (less than {MIN_SOUND_S:g} s)"))
        pos = e
    if pos < n:
        pieces.append(Piece(pos, n, silence_reason(n - pos)))
    return pieces


def silence_reason(samples: int) -> str:
    return f"silence: {samples / SAMPLE_RATE:.2f} s of pause outside the utterances"
