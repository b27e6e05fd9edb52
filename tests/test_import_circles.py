"""No import circles: a module of the core never imports, even from inside a function, a module that
imports it back (directly or through others)."""

from __future__ import annotations

import ast
from pathlib import Path

import vaestudio

PACKAGE = Path(vaestudio.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the vaestudio modules it imports anywhere in its text (function-local imports count)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        name = _module_name(path)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.startswith("vaestudio."))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vaestudio"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if _exists(full) else node.module)
        graph[name] = {t for t in targets if t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_core_has_no_import_circle():
    assert circles(import_graph(PACKAGE / "core")) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_help_texts_and_the_self_test_are_in_no_circle():
    """They share the CPU description through core.machine instead of one borrowing from the other."""
    found = circles(import_graph(PACKAGE))
    assert not [group for group in found
                if {"vaestudio.gui.help_texts", "vaestudio.gui.selftest"} & set(group)], found
