"""The early-stopping rule: which validation evaluation is the best so far, and when training stops.

Pure (no torch), so the tables can mark the kept step with the same rule the training used."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Curve:
    """Validation WER against optimiser steps. The best is the first evaluation, replaced by each later one whose
    WER is lower than the best's by more than `min_delta` (with 0: the earliest lowest WER; ties never count)."""

    rows: list[dict[str, float]] = field(default_factory=list)
    min_delta: float = 0.0

    def add(self, step: int, wer_value: float) -> bool:
        """Record an evaluation; True when it is the new best."""
        self.rows.append({"step": step, "wer": round(wer_value, 4)})
        return self.best()["step"] == step

    def best(self) -> dict[str, float]:
        best = self.rows[0]
        for row in self.rows[1:]:
            if row["wer"] < best["wer"] - self.min_delta:
                best = row
        return best

    def stale(self) -> int:
        """Evaluations since the best one."""
        return len(self.rows) - 1 - self.rows.index(self.best())

    def should_stop(self, patience: int) -> bool:
        return patience > 0 and self.stale() >= patience
