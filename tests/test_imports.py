"""The import graph of `udistil`, read from the sources: no circles, and no imports inside functions except of
heavy optional third-party packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "udistil"

LAZY_ALLOWED = {
    "torch",  # ~1-2 s: light jobs (scores from text, tables, logging, clips read by any job) import no torch
    "transformers",  # seconds: loaded only where a model is
    "tokenizers",  # with transformers: a random model's tokenizer is built only where one is made
    "accelerate",
    "datasets",  # only for an `hf` corpus and the exported datasets
    "huggingface_hub",  # ~0.3 s: the hub cache looked up for a config naming hub repos; cards with metadata
    "onnxruntime",  # neural TTS (piper), an optional package
    "piper",
    "pesq",  # the PESQ score only
    "sonar",  # sonar-space, installed only in envs/sonar.yaml
    "safetensors",  # with torch
    "scipy",  # scipy.signal takes ~1.5 s: only a job that resamples audio loads it
    "espeakng_loader",  # the espeak-ng library, loaded on the first synthesis
}
"""Third-party packages a function may import where it needs them (heavy, or optional)."""

HEAVY_MODULES = {
    "udistil.labels.timestamp_logits",  # subclasses transformers' Whisper at import: loads transformers (seconds)
    "udistil.distill.train",  # torch, transformers, accelerate (~5 s): a launcher of N processes needs none
}
"""udistil modules that import a heavy package at their top, and so are imported where they are needed."""

KNOWN_CIRCLES: set[tuple[str, str]] = set()
"""Edges left out of the circle check, each named with why and who removes it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The modules an import statement names: for `from a.b import c`, `a.b.c` when that is a module, else `a.b`."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:  # relative: from the importing module's package
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def imports(module: str) -> list[tuple[str, bool, int]]:
    """(imported module, inside a function, line) of every import statement in `module`'s source."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend((name, in_function, child.lineno) for name in resolve(child, module))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the udistil modules it imports (anywhere in its source, type-checking blocks included)."""
    return {m: {name for name, _, _ in imports(m) if name in MODULES and name != m
                and (m, name) not in KNOWN_CIRCLES} for m in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def test_the_walk_sees_every_module_and_both_kinds_of_import():
    assert {"udistil.labels.decoding", "udistil.labels.decoding.whisper", "udistil.scores.jobs",
            "udistil.results.tables"} <= set(MODULES)
    jobs = imports("udistil.scores.jobs")
    assert ("udistil.scores.proxy", False, jobs[[n for n, _, _ in jobs].index("udistil.scores.proxy")][2]) in jobs
    lazy = {name for name, in_function, _ in imports("udistil.labels.decoding.whisper") if in_function}
    assert "udistil.labels.timestamp_logits" in lazy and "transformers.modeling_outputs" in lazy
    assert "udistil.labels.decoding.base" in graph()["udistil.labels.decoding.whisper"]  # `from a.b import c`, c a name
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    found = cycles(graph())
    assert not found, f"import circles in udistil: {found}"


def test_known_circles_still_exist():
    """An exception that is no longer needed is removed: each known edge is still imported, and closes a circle."""
    for a, b in KNOWN_CIRCLES:
        edges = graph()
        edges[a].add(b)
        assert any(a in c and b in c for c in cycles(edges)), f"{a} -> {b} no longer closes a circle: drop it"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_inside_functions_are_heavy_third_party_only(module):
    lazy = [(name, line) for name, in_function, line in imports(module) if in_function]
    bad = [f"{MODULES[module].relative_to(ROOT)}:{line} imports {name}" for name, line in lazy
           if name.split(".")[0] not in LAZY_ALLOWED and name not in HEAVY_MODULES]
    assert not bad, "imports inside functions (move them to the top of the module): " + "; ".join(bad)
