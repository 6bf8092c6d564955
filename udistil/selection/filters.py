"""The filter registry: for each filter its kind, the score tables it reads, its selection rule and the group
that tables, comparisons, plots and claims show it in.

Every label-free score of `udistil.scores.SCORES` is a filter of the same name that keeps its own score's good end
under `selection.default` or its `selection.per_filter` rule: adding a label-free filter is adding its score (a
`ScoreInfo` entry and the code that computes it). The config schema's filter and score names, the config checks,
planning and selection all read this registry (`names`, `label_free_filters`).

Groups of the result matrix, in the paper's order: the teacher, zero-shot models, then the students by filter
group (`no-filter`, `supervised`, `label-free`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from udistil.scores import SCORES, label_free

TEACHER, ZERO_SHOT = "teacher", "zero-shot"
NO_FILTER, SUPERVISED, LABEL_FREE = "no-filter", "supervised", "label-free"
STUDENT_GROUPS = (NO_FILTER, SUPERVISED, LABEL_FREE)
BASELINE_GROUPS = (NO_FILTER, SUPERVISED)  # every student is compared with these
GROUP_ORDER = [TEACHER, ZERO_SHOT, *STUDENT_GROUPS]
PAPER_PREFIX = {NO_FILTER: "NoFilter DW-", SUPERVISED: "DW-", LABEL_FREE: "UDW-"}  # Table 1's row names

Selection = dict[str, Any]  # the filled config's `selection` section


@dataclass(frozen=True)
class Filter:
    name: str
    kind: str  # "baseline", "label-free" (one score) or "combination" (of label-free scores)
    group: str  # the result matrix's group (one of STUDENT_GROUPS)
    scores: Callable[[Selection], list[str]]  # the score tables it reads
    rule: Callable[[Selection], dict[str, Any]]  # its selection (mode, value, strict; see udistil.selection.select)
    rule_key: Callable[[Selection], str] = lambda selection: "selection"  # the config key its rule comes from

    @property
    def keep(self) -> str | None:
        """Which end of its score a single-score filter keeps ("low"/"high"); None for the others."""
        own = self.scores({"combined": {"scores": []}})
        return SCORES[own[0]].keep if len(own) == 1 else None


def _own_score(name: str) -> Callable[[Selection], list[str]]:
    return lambda selection: [name]


def _per_filter_key(name: str) -> Callable[[Selection], str]:
    return lambda selection: f"selection.per_filter.{name}" if name in selection["per_filter"] else "selection.default"


def _per_filter_rule(name: str) -> Callable[[Selection], dict[str, Any]]:
    def rule(selection: Selection) -> dict[str, Any]:
        own = selection["per_filter"]
        chosen = own[name] if name in own else selection["default"]
        return {"mode": chosen["mode"], "value": chosen["value"], "strict": False}

    return rule


def _supervised_rule(selection: Selection) -> dict[str, Any]:
    return {"mode": "threshold", "value": selection["supervised_threshold"],
            "strict": selection["supervised_comparison"] == "<"}


def _combined(selection: Selection) -> dict[str, Any]:
    return selection["combined"] if "combined" in selection else {"scores": []}  # the section is optional


def _combined_rule(selection: Selection) -> dict[str, Any]:
    c = _combined(selection)
    return {"mode": c["mode"], "value": c["value"], "strict": False}


def _label_free(name: str) -> Filter:
    return Filter(name, "label-free", LABEL_FREE, _own_score(name), _per_filter_rule(name), _per_filter_key(name))


BASELINES = {
    "none": Filter("none", "baseline", NO_FILTER, lambda s: [], lambda s: {"mode": "all", "value": None}),
    "supervised": Filter("supervised", "baseline", SUPERVISED, _own_score("wer"), _supervised_rule),
}
COMBINATIONS = {
    "combined": Filter("combined", "combination", LABEL_FREE, lambda s: list(_combined(s)["scores"]),
                       _combined_rule, lambda s: "selection.combined.mode"),
}


def registry() -> dict[str, Filter]:
    """Every filter, in the schema's order: the baselines, one per label-free score, the combinations."""
    return {**BASELINES, **{name: _label_free(name) for name in label_free()}, **COMBINATIONS}


def names() -> list[str]:
    return list(registry())


def label_free_filters() -> list[str]:
    """The filters that read one label-free score each (`selection.per_filter` may give each its own rule)."""
    return [n for n, f in registry().items() if f.kind == "label-free"]


def get(name: str) -> Filter:
    known = registry()
    if name not in known:
        raise ValueError(f"unknown filter '{name}'; known: {list(known)}")
    return known[name]


def needs_labels(name: str, selection: Selection) -> bool:
    """Whether a filter reads a score that needs ground truth (the supervised WER)."""
    return any(not SCORES[s].label_free for s in scores(name, selection))


def rule_key(name: str, selection: Selection) -> str:
    """The config key a filter's selection rule is read from (named by config errors)."""
    return get(name).rule_key(selection)


def group(name: str) -> str:
    """The result matrix's group of a filter's students."""
    return get(name).group


def scores(name: str, selection: Selection) -> list[str]:
    """The score tables a filter reads."""
    return get(name).scores(selection)


def selection_rule(name: str, selection: Selection) -> dict[str, Any]:
    """Mode and value of a filter's selection (see udistil.selection.select)."""
    return get(name).rule(selection)


def is_baseline(group_name: str) -> bool:
    return group_name in BASELINE_GROUPS


def paper_row(group_name: str, arch: str, suffix: str, filter_name: str) -> str:
    """The paper's Table 1 row of a student: DW-16-16, NoFilter DW-32-16, UDW-16-16++ proxy, ..."""
    base = PAPER_PREFIX[group_name] + arch + suffix
    return base if is_baseline(group_name) else f"{base} {filter_name}"
