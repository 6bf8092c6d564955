"""Synthetic English corpora: seeded sentences spoken by espeak-ng voices under acoustic conditions."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve, resample_poly

from udistil.common.fileio import SAMPLE_RATE
from udistil.corpora.conditions import CONDITION
from udistil.corpora.manifest import Record
from udistil.corpora.neural_tts import Prosody, is_neural
from udistil.corpora.neural_tts import synthesize as neural_synthesize
from udistil.corpora.sentences import SentenceGenerator, SplitSentences
from udistil.corpora.tts import synthesize

BABBLE_TALKERS = 4
BABBLE_TRACKS = 6


def stable_seed(*parts: object) -> int:
    """A seed from names and numbers that is the same in every process (unlike `hash`)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


@dataclass(frozen=True)
class SyntheticSpec:
    voices: list[str]
    conditions: list[str]
    rate: tuple[int, int]  # espeak-ng words per minute, drawn per clip (defaults in the schema)
    pitch: tuple[int, int]
    babble_voices: tuple[str, ...] = ("en-us+m1", "en+f2", "en-gb-x-rp+m4", "en-us+f3")


def add_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix `noise` into `audio` at a signal-to-noise ratio in dB (power over the whole clip)."""
    p_sig = float(np.mean(audio**2)) + 1e-12
    p_noise = float(np.mean(noise**2)) + 1e-12
    return audio + noise * np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))


def room_impulse(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """An exponentially decaying noise impulse response with the given RT60 in seconds."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def apply_condition(audio: np.ndarray, condition: str, rng: np.random.Generator,
                    babble: list[np.ndarray]) -> np.ndarray:
    """Degrade clean speech as the condition string says (e.g. `white@5`, `reverb@0.6`)."""
    kind, _, arg = condition.partition("@")
    value = float(arg) if arg else 0.0
    if kind == "clean":
        out = audio
    elif kind == "white":
        out = add_noise(audio, rng.standard_normal(audio.size).astype(np.float32), value)
    elif kind == "babble":
        track = babble[int(rng.integers(len(babble)))]
        start = int(rng.integers(max(1, track.size - audio.size)))
        noise = np.resize(np.roll(track, -start), audio.size)
        out = add_noise(audio, noise, value)
    elif kind == "reverb":
        out = fftconvolve(audio, room_impulse(value, rng))[: audio.size + int(0.2 * SAMPLE_RATE)]
    elif kind == "speed":
        up = int(round(100 / value))
        out = resample_poly(audio, up, 100)
    elif kind == "clip":
        out = np.clip(audio / max(value, 1e-3), -0.99, 0.99) * 0.9
    else:
        raise ValueError(f"unknown condition '{condition}'")
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return (out * (0.9 / peak) if peak > 0.9 else out).astype(np.float32)


def babble_bank(rng: np.random.Generator, gen: SentenceGenerator, voices: tuple[str, ...]) -> list[np.ndarray]:
    """A few babble tracks, each several talkers speaking at once."""
    tracks = []
    for _ in range(BABBLE_TRACKS):
        talkers = [synthesize(" ".join(gen.sentence() for _ in range(3)), voices[int(rng.integers(len(voices)))])
                   for _ in range(BABBLE_TALKERS)]
        n = max(t.size for t in talkers)
        mix = sum(np.pad(t / (np.std(t) + 1e-9), (0, n - t.size), mode="wrap") for t in talkers)
        tracks.append((mix / np.max(np.abs(mix))).astype(np.float32))
    return tracks


def neural_prosody(rate: int, pitch: int, rng: np.random.Generator) -> Prosody:
    """A Piper voice's parameters from the corpus's espeak-style draws: words per minute over espeak-ng's
    default 175 gives the speed, pitch 0-99 (50: the voice's own) up to two semitones either way, and the
    amount of sampled noise is drawn per clip."""
    return Prosody(speed=rate / 175, pitch=2 ** ((pitch - 50) / 50 * 2 / 12),
                   noise_scale=float(rng.uniform(0.4, 0.8)), noise_w_scale=float(rng.uniform(0.5, 1.0)))


def split_sentences(seed: int, corpus: str, split: str) -> SplitSentences:
    """The sentence source of a synthetic split: the pool (`train`) and the evaluation splits never share a
    sentence (udistil.corpora.sentences.held_out)."""
    return SplitSentences(stable_seed(seed, corpus, split, "text"), stable_seed(seed, corpus, split, "spare text"),
                          split)


def synthetic_records(spec: SyntheticSpec, n: int, seed: int, corpus: str, split: str) -> Iterator[Record]:
    """`n` utterances; the same (seed, corpus, split) gives the same sentences, voices and samples. The
    utterance's voice is its `group` (the speaker the bootstrap resamples as a cluster)."""
    for condition in spec.conditions:
        if not CONDITION.match(condition):
            raise ValueError(f"corpus '{corpus}': bad condition '{condition}' (e.g. clean, white@5, babble@0, "
                             "reverb@0.6, speed@1.4, clip@0.05)")
    rng = np.random.default_rng(stable_seed(seed, corpus, split))
    texts = split_sentences(seed, corpus, split)
    needs_babble = any(c.startswith("babble") for c in spec.conditions)
    babble = babble_bank(rng, texts.main, spec.babble_voices) if needs_babble else []
    for i in range(n):
        text = texts.sentence()
        voice = spec.voices[int(rng.integers(len(spec.voices)))]
        rate = int(rng.integers(spec.rate[0], spec.rate[1] + 1))
        pitch = int(rng.integers(spec.pitch[0], spec.pitch[1] + 1))
        condition = spec.conditions[int(rng.integers(len(spec.conditions)))]
        if is_neural(voice):  # extra draws only here: corpora of espeak-ng voices stay as they were
            prosody = neural_prosody(rate, pitch, rng)
            clean = neural_synthesize(text, voice, prosody)
            extra = {"noise_scale": prosody.noise_scale, "noise_w_scale": prosody.noise_w_scale}
        else:
            clean, extra = synthesize(text, voice, rate, pitch), {}
        audio = apply_condition(clean, condition, rng, babble)
        kind, _, arg = condition.partition("@")
        snr = float(arg) if kind in ("white", "babble") else None
        yield Record(id=f"{corpus}-{split}-{i:05d}", source=audio, text=text, origin=f"synthetic #{i}",
                     meta={"voice": voice, "group": voice, "rate": rate, "pitch": pitch, "condition": condition,
                           "snr_db": snr, **extra})
