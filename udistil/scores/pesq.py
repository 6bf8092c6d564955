"""`pesq`: perceptual similarity of the clip and speech re-synthesised from its pseudo-label.

The paper's TTS system and alignment are not published: here the TTS is espeak-ng (voice and rate from
the config) and `align` chooses how the synthetic speech is matched to the clip's length before PESQ:
`stretch` (resample to the same duration), `pad` (zero-pad or cut) or `none`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import resample
from tqdm import tqdm

from udistil.common.fileio import SAMPLE_RATE
from udistil.corpora.tts import synthesize
from udistil.scores import is_empty, worst
from udistil.scores.jobs import pool_audio, read_labels, report, require_keys


def align(deg: np.ndarray, n: int, how: str) -> np.ndarray:
    if how == "stretch" and deg.size and deg.size != n:
        return resample(deg, n).astype(np.float32)
    if how == "pad":
        return np.pad(deg, (0, max(0, n - deg.size)))[:n]
    return deg


def pesq_one(ref: np.ndarray, text: str, voice: str, rate: int, mode: str, how: str) -> tuple[float, str | None]:
    from pesq import pesq

    deg = align(synthesize(text, voice, rate=rate), ref.size, how)
    try:
        return float(pesq(SAMPLE_RATE, ref, deg, mode)), None
    except Exception as exc:  # noqa: BLE001 - pesq raises its own error types for silent/short input
        return worst("pesq"), f"pesq failed: {type(exc).__name__}: {exc}"


def pesq_score(labels: pd.DataFrame, audios: Sequence[np.ndarray], *, voice: str, rate: int, mode: str,
               how: str) -> pd.DataFrame:
    """PESQ of each clip against espeak-ng speech of its pseudo-label (`scores.pesq`: voice, rate, mode, align)."""
    rows = []
    for utt, label, audio in tqdm(zip(labels["id"], labels["pseudo_label"], audios, strict=True),
                                  total=len(labels), desc="pesq", unit="clip", mininterval=5):
        if is_empty(label):
            rows.append((utt, worst("pesq"), "empty pseudo-label"))
        else:
            rows.append((utt, *pesq_one(audio, label.strip(), voice, rate, mode, how)))
    return pd.DataFrame(rows, columns=["id", "score", "reason"])


def run_pesq(*, labels: str, manifest: str, cfg: dict[str, Any], out: str) -> None:
    """`cfg`: the filled `scores.pesq` section (voice, rate, mode, align), recorded as applied."""
    cfg = require_keys(cfg, ("voice", "rate", "mode", "align"), "scores.pesq")
    lab = read_labels(labels)
    df = pesq_score(lab, pool_audio(lab, manifest), voice=cfg["voice"], rate=cfg["rate"], mode=cfg["mode"],
                    how=cfg["align"])
    report(df, "pesq", out, cfg)
