"""Word and character error rates (jiwer, corpus level, x100), robust to empty strings."""

from __future__ import annotations

from collections.abc import Sequence

import jiwer


def _measures(refs: Sequence[str], hyps: Sequence[str], unit: str) -> tuple[int, int]:
    """(errors, reference length) summed over pairs; an empty hypothesis is all deletions."""
    errors = length = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        ref_units = ref.split() if unit == "word" else list(ref)
        n = len(ref_units)
        if n == 0:
            errors += len(hyp.split()) if unit == "word" else len(hyp)
            continue
        if not hyp.strip():
            errors += n
        else:
            out = jiwer.process_words(ref, hyp) if unit == "word" else jiwer.process_characters(ref, hyp)
            errors += out.substitutions + out.deletions + out.insertions
        length += n
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
