"""Word and character error rates (jiwer, corpus level, x100), robust to empty strings."""

from __future__ import annotations

from collections.abc import Sequence

import jiwer


def utterance_counts(ref: str, hyp: str, unit: str) -> tuple[int, int]:
    """(edit errors, reference length) of one pair; an empty hypothesis is all deletions, an empty reference
    counts every hypothesis unit as an insertion over a length of 0."""
    n = len(ref.split() if unit == "word" else list(ref))
    if n == 0:
        return (len(hyp.split()) if unit == "word" else len(hyp)), 0
    if not hyp.strip():
        return n, n
    out = jiwer.process_words(ref, hyp) if unit == "word" else jiwer.process_characters(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, n


def _measures(refs: Sequence[str], hyps: Sequence[str], unit: str) -> tuple[int, int]:
    """(errors, reference length) summed over pairs: corpus-level rates are ratios of these sums."""
    if unit not in ("word", "char"):
        raise ValueError(f"error rate unit '{unit}' is neither 'word' nor 'char'")
    errors = length = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        e, n = utterance_counts(ref, hyp, unit)
        errors, length = errors + e, length + n
    return errors, length


def error_rate(refs: Sequence[str], hyps: Sequence[str], unit: str = "word") -> float:
    """Corpus-level WER (`unit="word"`) or CER (`unit="char"`) in percent."""
    errors, length = _measures(refs, hyps, unit)
    return 100.0 * errors / length if length else float("nan")


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    return error_rate(refs, hyps, "word")


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    return error_rate(refs, hyps, "char")


def utterance_wer(ref: str, hyp: str) -> float:
    """WER of one pair in percent; an empty reference with a non-empty hypothesis counts as 100."""
    if not ref.split():
        return 0.0 if not hyp.split() else 100.0
    return wer([ref], [hyp])
