"""Text normalisation before WER/CER: Whisper's normalisers, and the paper's Arabic evaluation rules."""

from __future__ import annotations

import re
from collections.abc import Callable

ARABIC_KEEP = re.compile(r"[^0-9\u0621-\u064A\u0660-\u0669%@\s]")
ARABIC_INDIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
ALEF_VARIANTS = str.maketrans({"إ": "ا", "أ": "ا", "ٱ": "ا", "آ": "ا"})
SPACES = re.compile(r"\s+")
KINDS = ("arabic", "basic", "english")


def arabic(text: str) -> str:
    """UBC-NLP/uDistilWhisper evaluate.py `preprocess`: keep Arabic letters, digits, % and @; bare alef."""
    text = ARABIC_KEEP.sub("", text)
    text = text.translate(ARABIC_INDIC_DIGITS).translate(ALEF_VARIANTS)
    return SPACES.sub(" ", text).strip()


def normalizer(kind: str) -> Callable[[str], str]:
    """`arabic`, `basic` (Whisper BasicTextNormalizer) or `english` (Whisper EnglishTextNormalizer).

    openai-whisper's British-to-American spelling map does not ship offline, so the English normaliser
    runs with an empty map: numbers, contractions and fillers are still normalised.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown normalizer '{kind}' (one of {KINDS})")
    if kind == "arabic":
        return arabic
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    norm = EnglishTextNormalizer({}) if kind == "english" else BasicTextNormalizer()
    return lambda text: SPACES.sub(" ", norm(text or "")).strip()
