"""`proxy`: agreement of the teacher with a second ASR model (WER of the pseudo-label vs its transcript)."""

from __future__ import annotations

import pandas as pd

from udistil.common.normalize import normalizer
from udistil.evaluate.metrics import cer, utterance_wer
from udistil.scores import is_empty, worst


def proxy_score(labels: pd.DataFrame, transcripts: pd.DataFrame, norm_kind: str) -> pd.DataFrame:
    """WER and CER (x100) of each normalised pseudo-label against the normalised proxy transcript."""
    norm = normalizer(norm_kind)
    merged = labels[["id", "pseudo_label"]].merge(transcripts[["id", "text"]], on="id", how="left",
                                                  validate="one_to_one")
    rows = []
    for utt, label, proxy in merged.itertuples(index=False):
        if is_empty(label) or is_empty(norm(label)):
            rows.append((utt, worst("proxy"), "empty pseudo-label", proxy, float("nan")))
        elif not isinstance(proxy, str):
            rows.append((utt, worst("proxy"), "no proxy transcript", proxy, float("nan")))
        else:
            ref, hyp = norm(proxy), norm(label)
            rows.append((utt, utterance_wer(ref, hyp), None, proxy, cer([ref], [hyp]) if ref else 100.0))
    return pd.DataFrame(rows, columns=["id", "score", "reason", "proxy_text", "proxy_cer"])


def supervised_wer(labels: pd.DataFrame, manifest: pd.DataFrame, norm_kind: str) -> pd.DataFrame:
    """`wer`: the supervised baseline's score, the pseudo-label against the ground truth (needs text)."""
    norm = normalizer(norm_kind)
    merged = labels[["id", "pseudo_label"]].merge(manifest[["id", "text"]], on="id", how="left",
                                                  validate="one_to_one")
    rows = []
    for utt, label, text in merged.itertuples(index=False):
        if is_empty(text) or not norm(text):
            rows.append((utt, float("nan"), "no ground truth"))
        elif is_empty(label):
            rows.append((utt, worst("wer"), "empty pseudo-label"))
        else:
            rows.append((utt, utterance_wer(norm(text), norm(label)), None))
    return pd.DataFrame(rows, columns=["id", "score", "reason"])
