"""The layers of docs/architecture.md, checked on the code: front ends name no
fabric, only the EMR fabric imports boto3, only the engine writes the store,
modules stay small, and no import goes round in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataflow_runner.fabrics import registry

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "dataflow_runner"
#: The most lines a module may have, unless its docstring says why it needs more.
MAX_LINES = 600


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(), str(path))


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what only the type checker sees (``if TYPE_CHECKING:``)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def imports(name: str, tree: ast.AST) -> set[str]:
    """The modules ``name`` imports when it runs (at its top or in a function)."""
    out: set[str] = set()
    package = name.split(".")
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = package if name in _PACKAGES else package[:-1]
                parent = here[: len(here) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


_PACKAGES = {
    ".".join(p.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("*") if p.is_dir()
}


def outside(path: Path, *allowed: str) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    return not any(relative.startswith(prefix) for prefix in allowed)


def test_no_code_outside_the_fabrics_names_a_fabric() -> None:
    names = set(registry.names())
    found = []
    for _, path, tree in modules():
        if not outside(path, "fabrics/"):
            continue
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings:
                continue
            value = node.value
            if value in names or value.startswith(("l-", "j-", "s-")):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {value!r}")
    assert found == []


def test_only_the_emr_fabric_imports_boto3() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for name, path, tree in modules()
        if outside(path, "fabrics/emr/")
        for module in imports(name, tree)
        if module.split(".")[0] in ("boto3", "botocore")
    ]
    assert found == []


def test_only_the_engine_and_the_store_write_the_store() -> None:
    found = []
    for name, path, tree in modules():
        if not outside(path, "engine/", "store/"):
            continue
        for module in imports(name, tree):
            if module.startswith("dataflow_runner.store.writer"):
                found.append(f"{path.relative_to(PACKAGE)}: imports {module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "writer":
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: .writer")
    assert found == []


def test_modules_stay_small() -> None:
    too_long = []
    for _, path, tree in modules():
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(tree) or ""
        if lines > MAX_LINES and "lines" not in doc:
            too_long.append(f"{path.relative_to(PACKAGE)}: {lines} lines")
    assert too_long == []


def test_no_import_goes_round_in_a_circle() -> None:
    graph = {}
    for name, _, tree in modules():
        known = {m for m in imports(name, tree) if m.startswith("dataflow_runner")}
        # Importing ``a.b.c`` runs ``a`` and ``a.b`` first: parents are not edges.
        graph[name] = {m for m in known if m != name and not name.startswith(m + ".")}
    names = set(graph)
    graph = {n: {m for m in deps if m in names} for n, deps in graph.items()}
    cycles = _cycles(graph)
    assert cycles == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert _cycles(graph) == expected
