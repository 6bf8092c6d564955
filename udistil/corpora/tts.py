"""espeak-ng speech synthesis through the library bundled by `espeakng-loader` (no system package).

espeak-ng keeps state between utterances (its voice-flutter phase and noise generator), so the same text
spoken twice in one process gives slightly different samples. To make every clip depend only on its own
text and voice, each utterance is synthesised in a child process forked from an engine that never speaks
itself (about 10 ms per clip). This needs `os.fork` (Linux, macOS). The noise of some voice variants (e.g.
`+f2`) comes from espeak-ng's own random generator, which it seeds with the clock when it initialises; each
child reseeds it from the utterance itself, so the samples are the same in every process and every run.
"""

from __future__ import annotations

import ctypes
import os
import threading
import zlib
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from udistil.common.fileio import to_mono_16k

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE = 1, 3, 4
ESPEAK_CHARS_UTF8 = 1
POS_CHARACTER = 1

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class TTSError(RuntimeError):
    """espeak-ng failed or rejected a voice."""


class Espeak:
    """The espeak-ng engine, initialised once; it speaks only in forked children."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.cdll.LoadLibrary(str(espeakng_loader.get_library_path()))
        data = str(espeakng_loader.get_data_path()).encode()
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if self.sample_rate <= 0:
            raise TTSError(f"espeak_Initialize failed ({self.sample_rate})")
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav, n, _events) -> int:
        if n > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * n))
        return 0

    def _speak(self, text: str, voice: str, params: tuple[int, int, int]) -> bytes:
        """Synthesise in this process (only ever called in a forked child); raw int16 PCM."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise TTSError(f"unknown espeak-ng voice '{voice}'")
        for param, value in zip((ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE), params, strict=True):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(zlib.crc32(f"{voice}|{params}|{text}".encode())))
        raw = text.encode("utf-8") + b"\0"
        err = self.lib.espeak_Synth(raw, len(raw), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise TTSError(f"espeak_Synth failed ({err}) for voice {voice}")
        return b"".join(self._chunks)

    def synthesize(self, text: str, voice: str, rate: int = 175, pitch: int = 50, pitch_range: int = 50
                   ) -> np.ndarray:
        """Speak `text` with an espeak voice name (e.g. `en-us+f3`); 16 kHz mono float32."""
        with self.lock:
            payload = self._in_child(text, voice, (rate, pitch, pitch_range))
        status, body = payload[:1], payload[1:]
        if status != b"0":
            raise TTSError(body.decode("utf-8", "replace") or f"espeak-ng child failed for voice {voice}")
        pcm = np.frombuffer(body, dtype=np.int16)
        return to_mono_16k(pcm.astype(np.float32) / 32768.0, self.sample_rate)

    def _in_child(self, text: str, voice: str, params: tuple[int, int, int]) -> bytes:
        return in_child(lambda: self._speak(text, voice, params))


def in_child(speak: Callable[[], bytes]) -> bytes:
    """Run `speak` in a forked child and return b"0" + its bytes, or b"1" + the error: the parent's engine
    state (espeak-ng's phase and noise, onnxruntime's random generators) never advances."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: speak, send status + payload, exit without running the parent's cleanup
        os.close(read_fd)
        try:
            out = b"0" + speak()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            out = b"1" + str(exc).encode()
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(out)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    return payload


@lru_cache(maxsize=1)
def engine() -> Espeak:
    return Espeak()


def synthesize(text: str, voice: str, rate: int = 175, pitch: int = 50, pitch_range: int = 50) -> np.ndarray:
    return engine().synthesize(text, voice, rate, pitch, pitch_range)
