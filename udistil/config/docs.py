"""docs/configuration.md, generated from the config schema (its descriptions, types, defaults, allowed values and
nested keys), so the reference cannot drift from the schema that validates every run:

    python -m udistil.config.docs docs/configuration.md     # or `make docs`; without a path: stdout
    python -m udistil.config.docs --missing                  # the keys whose schema entry has no description
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from udistil.common.fileio import write_text
from udistil.config.validate import SCHEMA, load_schema, schema_text

Schema = dict[str, Any]
HEADER = ("<!-- Generated from schemas/config.schema.yaml by `python -m udistil.config.docs docs/configuration.md` "
          "(`make docs`). Do not edit by hand: a test fails when this file differs from the schema. -->")


@dataclass(frozen=True)
class Row:
    key: str  # dotted path; `<name>` stands for a key the user chooses (a model, a corpus, a pool)
    when: str  # the condition under which the key applies ("type: synthetic"), or ""
    type: str
    default: str  # JSON of the schema default; "required" or "" when there is none
    allowed: str  # enum values, ranges, patterns
    description: str


def resolve(node: Schema, root: Schema) -> Schema:
    """`node` with a local `$ref` (#/$defs/...) replaced by its target, the node's own keys added."""
    if "$ref" not in node:
        return node
    target: Any = root
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**resolve(target, root), **{k: v for k, v in node.items() if k != "$ref"}}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def type_text(node: Schema, root: Schema) -> str:
    """The node's type in words: `integer`, `string | null`, `array of string`, `map of number`."""
    node = resolve(node, root)
    if "const" in node:
        return f"= {_json(node['const'])}"
    if "enum" in node:
        return "enum"
    kinds = node.get("type", "object" if "properties" in node or "additionalProperties" in node else "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for kind in kinds:
        if kind == "array" and isinstance(node.get("items"), dict):
            words.append(f"array of {type_text(node['items'], root)}")
        elif kind == "object" and _is_leaf_map(node, root):
            words.append(f"map of {type_text(node['additionalProperties'], root)}")
        else:
            words.append(str(kind))
    return " | ".join(words)


def _is_leaf_map(node: Schema, root: Schema) -> bool:
    """A map whose values are plain (no nested keys to document)."""
    values = node.get("additionalProperties")
    return isinstance(values, dict) and not _children(resolve(values, root), root)


def _children(node: Schema, root: Schema) -> bool:
    return bool(node.get("properties") or node.get("allOf") or node.get("then")
                or (isinstance(node.get("additionalProperties"), dict)
                    and _children(resolve(node["additionalProperties"], root), root)))


def allowed_text(node: Schema, root: Schema) -> str:
    """Enum values and bounds of the node (or of its array items / map values)."""
    node = resolve(node, root)
    parts = []
    if "enum" in node:
        parts.append(", ".join(_json(v) for v in node["enum"]))
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<",
              "minItems": "items >=", "maxItems": "items <=", "minProperties": "keys >="}
    parts += [f"{sign} {_json(node[k])}" for k, sign in bounds.items() if k in node]
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    if node.get("uniqueItems"):
        parts.append("unique")
    for inner in ("items", "additionalProperties"):
        if isinstance(node.get(inner), dict) and not _children(resolve(node[inner], root), root):
            text = allowed_text(node[inner], root)
            parts += [f"each: {text}"] if text else []
    return "; ".join(parts)


def _row(key: str, node: Schema, root: Schema, required: bool, when: str) -> Row:
    node = resolve(node, root)
    default = _json(node["default"]) if "default" in node else ("required" if required else "")
    description = " ".join(str(node.get("description", "")).split())
    return Row(key=key, when=when, type=type_text(node, root), default=default, allowed=allowed_text(node, root),
               description=description)


def _branch_condition(branch: Schema) -> str:
    """`type: synthetic` from `if: {properties: {type: {const: synthetic}}}`; `with random` from `required`."""
    test = branch.get("if", {})
    conditions = [f"{name}: {', '.join(map(str, spec.get('enum', [spec.get('const')])))}"
                  for name, spec in test.get("properties", {}).items()]
    conditions += [f"with {name}" for name in test.get("required", [])]
    return "; ".join(conditions)


def rows(node: Schema, root: Schema, path: str = "", required: bool = False, when: str = "") -> Iterator[Row]:
    """Every documented key below `node`, depth first, in schema order."""
    node = resolve(node, root)
    if path:
        yield _row(path, node, root, required, when)
    needed = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        yield from rows(child, root, f"{path}.{name}" if path else name, name in needed, when)
    values = node.get("additionalProperties")
    if isinstance(values, dict) and _children(resolve(values, root), root):
        yield from rows(values, root, f"{path}.<name>", False, when)
    for branch in [*node.get("allOf", []), *([node] if "then" in node else [])]:
        then = branch.get("then", {})
        condition = "; ".join(c for c in (when, _branch_condition(branch)) if c)
        needed_then = needed | set(then.get("required", []))
        for name, child in then.get("properties", {}).items():
            if "const" in child:
                continue  # the branch's own discriminator, stated in `when`
            merged = {**node.get("properties", {}).get(name, {}), **child}
            yield from rows(merged, root, f"{path}.{name}", name in needed_then, condition)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(section: list[Row]) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for row in section:
        key = f"`{row.key}`" + (f" ({row.when})" if row.when else "")
        cells = [key, row.type, f"`{row.default}`" if row.default not in ("", "required") else row.default,
                 row.allowed, row.description]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def render(schema: Schema) -> str:
    """The Markdown reference: top-level settings in one table, then one table per section."""
    all_rows = list(rows(schema, schema))
    sections: dict[str, list[Row]] = {}
    for row in all_rows:
        top = row.key.split(".")[0]
        nested = any(r.key.startswith(top + ".") for r in all_rows)
        sections.setdefault(top if nested else "", []).append(row)
    lines = [HEADER, "", "# Configuration reference", "",
             " ".join(schema.get("description", "").split()) + ". Every key below is checked against "
             "`schemas/config.schema.yaml` before any job runs; a key left out takes its default. `<name>` stands "
             "for a name you choose (a model, a corpus, a pool); a key marked with a condition applies only then. "
             "`make config CONFIG=configs/x.yaml` prints a config with every default filled in.", "",
             "## Top-level settings", "", *_table(sections.pop("", []))]
    for top, section in sections.items():
        lines += ["", f"## `{top}`", "", *_table(section)]
    return "\n".join(lines) + "\n"


def missing_descriptions(schema: Schema) -> list[str]:
    """Keys (with their condition) whose schema entry has no description."""
    return [row.key + (f" ({row.when})" if row.when else "") for row in rows(schema, schema) if not row.description]


def load(path: str | Path = SCHEMA) -> Schema:
    return load_schema(path)


def main(argv: list[str]) -> None:
    """`python -m udistil.config.docs [OUT]`: the reference to OUT (stdout without); `--missing`: the keys without a
    description."""
    ap = argparse.ArgumentParser(prog="python -m udistil.config.docs", description=main.__doc__)
    ap.add_argument("out", nargs="?", help="file to write (docs/configuration.md); stdout without")
    ap.add_argument("--missing", action="store_true", help="list the schema keys that have no description")
    args = ap.parse_args(argv)
    schema = load()
    if args.missing:
        print("\n".join(missing_descriptions(schema)))
    elif args.out:  # the schema's registry lines too, which the reference shows
        text = SCHEMA.read_text()
        if schema_text(text) != text:
            write_text(schema_text(text), SCHEMA)
        write_text(render(schema), args.out)
    else:
        sys.stdout.write(render(schema))


if __name__ == "__main__":
    main(sys.argv[1:])
