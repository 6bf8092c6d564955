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
    evidence = ROOT / "docs" / "evidence" / "tables"
    claims, matrix = (evidence / "paper_claims.md").read_text(), (evidence / "result_matrix.md").read_text()
    quoted_claims = [line for line in readme if re.match(r"- \*\*(holds|does not hold|not resolved)", line)]
    quoted_rows = [line for line in readme if re.match(r"\| (whisper-|student-)", line)]
    assert quoted_claims and quoted_rows
    assert [line for line in quoted_claims if line not in claims.splitlines()] == []
    assert [line for line in quoted_rows if line not in matrix.splitlines()] == []


def test_evidence_snapshot_recomputes_its_claims_interval_and_reads_as_a_run():
    """docs/evidence holds the run's config, per-utterance error table, comparisons.csv and benchmark files: the
    command docs/evidence.md documents recomputes the headline claim's interval from them as paper_claims.md prints
    it, and comparisons.csv's stored interval to the last digit; the power tool reads the snapshot as a run."""
    from udistil.results.power import main as power
    from udistil.results.recompute import main as recompute
    from udistil.results.recompute import recompute as recompute_interval
    from udistil.results.recompute import stored
    from udistil.results.utterance_errors import Run

    snapshot = ROOT / "docs" / "evidence"
    claims = (snapshot / "tables" / "paper_claims.md").read_text()
    head = re.search(r"^- \*\*[^*]+\*\*: the best label-free filter beats no filtering .*?test: (\S+) minus none: "
                     r"difference (\S+) \[(\S+), (\S+)\] \((\S+)% interval", claims, re.M)
    resamples = re.search(r"; (\d+) resamples", claims).group(1)
    level = re.search(r"Holm level (\S+)%", power([str(snapshot)])).group(1)
    student = f"student-6-5-pool-{head.group(1).rstrip('*')}"
    out = recompute([str(snapshot), student, "student-6-5-pool-none", "--confidence", str(float(level) / 100),
                     "--resamples", resamples]).splitlines()
    numbers = re.search(r"difference (\S+) \[(\S+), (\S+)\]", out[0]).groups()
    assert [f"{float(x):+.2f}" for x in numbers] == list(head.groups()[1:4])
    run = Run.read(snapshot)  # at the run's own settings: comparisons.csv's interval, to the last digit
    r = recompute_interval(run, student, "student-6-5-pool-none")
    assert (r["difference"], r["lo"], r["hi"]) == stored(run, student, "student-6-5-pool-none")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text())
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert missing == [], f"{doc.name} links to missing files"


FENCE = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
EXTENDS = re.compile(r"^# extends (\S+)")


def config_snippets() -> list[tuple[str, str, str]]:
    """(doc:line, the config it extends, snippet) of every ```yaml block in the README and docs/: a block
    extends config.yaml unless its first line says `# extends <config>` (for example configs/own-audio.yaml)."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            first = m.group(1).splitlines()[0]
            base = EXTENDS.match(first)
            found.append((f"{doc.name}:{text[:m.start()].count(chr(10)) + 1}", base[1] if base else "config.yaml",
                          m.group(1)))
    return found


def merged(base: dict, snippet: dict) -> dict:
    """`snippet` over `base`: mappings merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in snippet.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


@pytest.mark.parametrize("where,base,snippet", [pytest.param(*s, id=s[0]) for s in config_snippets()])
def test_every_config_snippet_in_the_docs_is_valid(where, base, snippet):
    """Each snippet, merged into the config it says it extends, validates against the schema: a documented example
    cannot drift into a config error."""
    import yaml

    from udistil.config.validate import ConfigError, validate

    config = merged(yaml.safe_load((ROOT / base).read_text()), yaml.safe_load(snippet) or {})
    try:
        validate(config)
    except ConfigError as err:
        pytest.fail(f"{where} (extends {base}): {err}")


def test_the_snippets_cover_the_readme_and_the_corpora_doc():
    places = {where.split(":")[0] for where, _, _ in config_snippets()}
    assert {"README.md", "corpora.md"} <= places


def test_license_and_citation_match_the_package():
    import tomllib

    import yaml

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == project["version"] and cff["license"] == "MIT"
    assert cff["preferred-citation"]["title"].startswith("uDistil-Whisper") and \
        "arXiv:2407.01257" in str(cff["preferred-citation"]["identifiers"])
