"""docs/configuration.md is generated from the schema (udistil.config.docs) and must not go stale."""

from pathlib import Path

import pytest

from udistil.config.docs import Row, load, main, missing_descriptions, render, rows

ROOT = Path(__file__).resolve().parent.parent

TINY = {
    "description": "tiny",
    "required": ["name"],
    "$defs": {"rule": {"type": "object", "required": ["mode"],
                       "properties": {"mode": {"enum": ["a", "b"]},
                                      "value": {"type": ["number", "null"], "default": None}}}},
    "properties": {
        "name": {"type": "string", "description": "what | it is"},
        "rule": {"$ref": "#/$defs/rule", "default": {"mode": "a"}},
        "tags": {"type": "array", "items": {"enum": ["x", "y"]}, "minItems": 1, "default": ["x"]},
        "things": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["kind"], "properties": {"kind": {"enum": ["k1", "k2"]}},
            "allOf": [{"if": {"properties": {"kind": {"const": "k1"}}},
                       "then": {"properties": {"kind": {"const": "k1"}, "size": {"type": "integer", "minimum": 1,
                                                                                 "default": 3}}}}]}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def test_rows_follow_refs_maps_and_conditional_branches():
    got = list(rows(TINY, TINY))
    assert got == [
        Row("name", "", "string", "required", "", "what | it is"),
        Row("rule", "", "object", '{"mode": "a"}', "", ""),
        Row("rule.mode", "", "enum", "required", '"a", "b"', ""),
        Row("rule.value", "", "number | null", "null", "", ""),
        Row("tags", "", "array of enum", '["x"]', 'items >= 1; each: "x", "y"', ""),
        Row("things", "", "object", "", "", ""),
        Row("things.<name>", "", "object", "", "", ""),
        Row("things.<name>.kind", "", "enum", "required", '"k1", "k2"', ""),
        Row("things.<name>.size", "kind: k1", "integer", "3", ">= 1", ""),
        Row("labels", "", "map of string", "", "", ""),
    ]
    assert missing_descriptions(TINY)[-2:] == ["things.<name>.size (kind: k1)", "labels"]


def test_render_groups_sections_and_escapes_table_cells():
    text = render(TINY)
    assert "| `name` | string | required |  | what \\| it is |" in text
    assert "## `things`" in text and "| `things.<name>.size` (kind: k1) | integer | `3` | >= 1 |  |" in text
    assert text.index("## Top-level settings") < text.index("| `tags` |") < text.index("## `rule`")


def test_committed_configuration_reference_is_the_generated_one():
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(load()), (
        "docs/configuration.md is stale: regenerate it with `make docs` (python -m udistil.config.docs "
        "docs/configuration.md) after changing schemas/config.schema.yaml")


def test_the_command_line_help_writes_no_file(tmp_path, monkeypatch, capsys):
    """`--help` is help, not the name of the file to write (it was, once)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--missing" in capsys.readouterr().out and not list(tmp_path.iterdir())
    main(["ref.md"])
    assert (tmp_path / "ref.md").read_text() == (ROOT / "docs" / "configuration.md").read_text()
