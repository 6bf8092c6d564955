"""`conf` and `entropy`: the teacher's own token statistics, from the pseudo-labelling pass (no second pass)."""

from __future__ import annotations

import pandas as pd

from udistil.scores import is_empty, teacher_stats, worst


def teacher_score(labels: pd.DataFrame, name: str) -> pd.DataFrame:
    """Copy the statistic `name` (conf or entropy) into a score table; empty pseudo-labels get the worst."""
    if name not in teacher_stats():
        raise ValueError(f"not a teacher statistic: {name}")
    empty = labels["pseudo_label"].map(is_empty)
    score = labels[name].where(~empty, worst(name)).astype(float)
    reason = empty.map(lambda e: "empty pseudo-label" if e else None)
    return pd.DataFrame({"id": labels["id"], "score": score, "reason": reason,
                         "n_tokens": labels["n_tokens"], "mean_logprob": labels["mean_logprob"]})
