"""The grammar of a synthetic corpus's acoustic conditions (one definition: config validation and synthesis)."""

from __future__ import annotations

import re

CONDITION = re.compile(r"^(clean|white@-?\d+(\.\d+)?|babble@-?\d+(\.\d+)?|reverb@\d+(\.\d+)?|"
                       r"speed@\d+(\.\d+)?|clip@\d+(\.\d+)?)$")
ACCEPTED = "clean, white@SNR, babble@SNR, reverb@RT60, speed@FACTOR or clip@LEVEL"


def condition_errors(conditions: list[str]) -> dict[int, str]:
    """Position -> message for each condition the grammar does not accept."""
    return {i: f"'{c}' is not a condition ({ACCEPTED})" for i, c in enumerate(conditions) if not CONDITION.match(c)}
