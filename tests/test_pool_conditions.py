import pandas as pd

from udistil.results.analysis import conditions_markdown, labels_by_condition


def test_pseudo_label_wer_per_condition_and_voice_by_hand():
    manifest = pd.DataFrame({
        "id": ["a", "b", "c", "d"],
        "text": ["the cat sat", "a dog ran far", "big tree", "red sky"],
        "voice": ["piper:en_US-joe-medium", "piper:en_US-joe-medium", "en-us+m1", "en-us+f2"],
        "condition": ["clean", "babble@0", "clean", "babble@0"],
    })
    labels = pd.DataFrame({"id": ["a", "b", "c", "d"],
                           "pseudo_label": ["the cat sat", "a frog", "big tree fell down", None]})
    t = labels_by_condition(labels, manifest, "english", 80).set_index(["condition", "voice"])
    # clean: 0 errors over 3 words (a) and 2 insertions over 2 words (c)
    assert t.loc[("clean", "all"), "wer"] == round(100 * 2 / 5, 2) and t.loc[("clean", "all"), "clips"] == 2
    # babble@0: a dog ran far -> a frog (1 sub + 2 del = 3 of 4); red sky -> nothing (2 of 2)
    assert t.loc[("babble@0", "all"), "wer"] == round(100 * 5 / 6, 2)
    assert t.loc[("all", "all"), "wer"] == round(100 * 7 / 11, 2)
    assert t.loc[("all", "piper en_US-joe-medium"), "wer"] == round(100 * 3 / 7, 2)
    assert t.loc[("clean", "espeak-ng"), "wer"] == 100.0
    # utterance WERs 0, 75, 100, 100: over 80 are c and d
    assert t.loc[("all", "all"), "share_wer>80"] == 0.5 and t.loc[("babble@0", "all"), "share_wer>80"] == 0.5
    md = conditions_markdown(t.reset_index(), 80)
    assert "| all " in md.splitlines()[2] and "40.0 (2)" in md and "50%" in md
