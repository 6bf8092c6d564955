import math

import pytest

from udistil.common.normalize import arabic, normalizer
from udistil.evaluate.metrics import cer, utterance_wer, wer


def test_arabic_drops_diacritics_punctuation_and_latin():
    assert arabic("مَرْحَبًا، بِكُمْ!") == "مرحبا بكم"
    assert arabic("hello مرحبا world?") == "مرحبا"
    assert arabic("كيف حالك؟") == "كيف حالك"


def test_arabic_alef_variants_and_digits():
    assert arabic("إبراهيم أحمد آمن") == "ابراهيم احمد امن"
    # as in the paper's evaluate.py, the character filter runs first and drops alef wasla (U+0671)
    assert arabic("ٱلله") == "لله"
    assert arabic("عام ٢٠٢٤ و 15%") == "عام 2024 و 15%"
    assert arabic("  كثير   من\tالمسافات ") == "كثير من المسافات"


def test_english_and_basic_normalisers():
    en = normalizer("english")
    assert en("Hello, World! It's 5 o'clock.") == en("hello world it is 5 o'clock")
    assert en("eight huge nurses") == "8 huge nurses"
    assert normalizer("basic")("Hello, World!") == "hello world"


def test_wer_identical_is_zero_and_empty_hypothesis_counts_deletions():
    assert wer(["a b c"], ["a b c"]) == 0.0
    assert wer(["a b c", "d e"], ["a b c", ""]) == pytest.approx(100 * 2 / 5)
    assert cer(["abc"], [""]) == 100.0
    assert utterance_wer("", "") == 0.0 and utterance_wer("", "x") == 100.0
    assert math.isnan(wer([""], [""]))


def test_wer_matches_jiwer_corpus_level():
    import jiwer

    refs, hyps = ["the cat sat on the mat", "a b c d"], ["the bat sat mat", "a b x d e"]
    assert wer(refs, hyps) == pytest.approx(100 * jiwer.wer(refs, hyps))
    assert cer(refs, hyps) == pytest.approx(100 * jiwer.cer(refs, hyps))


def test_unknown_normalizer_and_unit_are_named():
    from udistil.evaluate.metrics import error_rate

    with pytest.raises(ValueError, match="unknown normalizer 'englsh'"):
        normalizer("englsh")
    with pytest.raises(ValueError, match="unit 'words'"):
        error_rate(["a"], ["a"], "words")
