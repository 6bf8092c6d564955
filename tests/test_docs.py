"""The README stays short, its quotes of the evidence snapshot stay verbatim, and every relative link resolves."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_read_in_ten_minutes():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_readme_quotes_the_evidence_claims_and_matrix_verbatim():
    readme = (ROOT / "README.md").read_text().splitlines()
    evidence = ROOT / "docs" / "evidence"
    claims, matrix = (evidence / "paper_claims.md").read_text(), (evidence / "result_matrix.md").read_text()
    quoted_claims = [line for line in readme if re.match(r"- \*\*(holds|does not hold|not resolved)", line)]
    quoted_rows = [line for line in readme if re.match(r"\| (whisper-|student-)", line)]
    assert quoted_claims and quoted_rows
    assert [line for line in quoted_claims if line not in claims.splitlines()] == []
    assert [line for line in quoted_rows if line not in matrix.splitlines()] == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text())
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert missing == [], f"{doc.name} links to missing files"
