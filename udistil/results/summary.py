"""The few lines a finished run ends with: where its matrix, claims and report are, and each claim's verdict."""

from __future__ import annotations

import re
from pathlib import Path

SCOPE_RE = re.compile(r"^\*\*(?P<scope>[^*]+)\*\*: [0-9]+ (claims? in one family|comparisons?,)")
CLAIM_RE = re.compile(r"^- \*\*(?P<verdict>[^*]+)\*\*: (?P<claim>.+?) \(claimed: ")
POWER_RE = re.compile(r"Detectable with (?P<power>[0-9]+)% power: (?P<detectable>[0-9.]+) points")


def claim_verdicts(claims_md: str) -> list[tuple[str, str, str]]:
    """(verdict, claim, scope) of each claim line of a paper_claims.md (udistil.results.paper.claims_markdown: a line
    opening each scope's family, then its claims)."""
    return [(v, c, s) for v, c, s, _ in claim_lines(claims_md)]


def claim_lines(claims_md: str) -> list[tuple[str, str, str, str]]:
    """(verdict, claim, scope, "detectable at 80% power: 9.2 points" or "") of each claim line."""
    out, scope = [], ""
    for line in claims_md.splitlines():
        if m := SCOPE_RE.match(line):
            scope = m["scope"]
        elif m := CLAIM_RE.match(line):
            p = POWER_RE.search(line)
            power = f"detectable at {p['power']}% power: {float(p['detectable']):.1f} points" if p else ""
            out.append((m["verdict"], m["claim"], scope, power))
    return out


def run_summary(root: str | Path, not_computed: list[str] = ()) -> str:
    """Where a run's result matrix, claims and report are (those that exist), the claims' verdicts, and what the
    run could not compute (`udistil.plan.targets.not_computed`)."""
    root = Path(root)
    places = [("result matrix", root / "tables" / "result_matrix.md"), ("claims", root / "tables" / "paper_claims.md"),
              ("report", root / "report.html")]
    lines = [f"udistil run finished: outputs under {root}/"]
    lines += [f"  {what}: {path}" for what, path in places if path.exists()]
    claims = places[1][1]
    if claims.exists():
        lines += [f"  [{v}] {c} ({'; '.join(filter(None, (s, p)))})" for v, c, s, p in claim_lines(claims.read_text())]
    lines += [f"  not computed: {line}" for line in not_computed]
    return "\n".join(lines)
