"""Whisper's timestamp tokens in pseudo-label text (`<|1.24|>`, as `decode_with_timestamps=True` writes them).

A pseudo-label made with timestamps keeps them for training (distil-whisper's `timestamp_probability`);
every other reader (the label-free scores, the supervised WER, selection) takes the text without them.
"""

from __future__ import annotations

import re

TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")


def has_timestamps(text: str) -> bool:
    return isinstance(text, str) and TIMESTAMP.search(text) is not None


def strip_timestamps(text):
    """The text without timestamp tokens, whitespace collapsed as Whisper's segments join; non-strings as they are."""
    if not isinstance(text, str) or not has_timestamps(text):
        return text
    return " ".join(TIMESTAMP.sub(" ", text).split())
