"""No import cycles inside the gateway (app/) or the training engine.

A cycle means a module can be half-initialised when another reads from it, and
that layers which should stack (routes over services over the bus) lean on
each other instead; the usual patch is a module that exists only to break it.
The graph is built from the source with ast: module-level imports only (one
inside a function runs later, once every module is loaded), and none guarded
by `if TYPE_CHECKING:` (never run at all).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module loads: its top level, and the blocks of
    top-level `if`/`try`/`with` statements, except `if TYPE_CHECKING:`."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not is_type_checking(node):
            yield from module_level_imports(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            yield from module_level_imports(
                node.body + handlers + node.orelse + node.finalbody
            )
        elif isinstance(node, ast.With | ast.AsyncWith):
            yield from module_level_imports(node.body)


def named_modules(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool
) -> set[str]:
    """What an import statement names: `from a import b` names `a.b` (if
    that is a module) and `a` (if `b` is a name in it)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return {base} | {f"{base}.{alias.name}" for alias in node.names}


def loaded(name: str, importer: str, known: set[str]) -> set[str]:
    """The known modules importing `name` runs: it and the packages above it,
    less the importer's own packages (already loading when it runs)."""
    parts = name.split(".")
    chain = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    own_parts = importer.split(".")
    own = {".".join(own_parts[:i]) for i in range(1, len(own_parts) + 1)}
    return (chain & known) - own


def import_graph(root: Path, package: str) -> Graph:
    files = {module_name(f, root): f for f in (root / package).rglob("*.py")}
    known = set(files)
    graph: Graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = {
            target
            for node in module_level_imports(tree.body)
            for name in named_modules(node, module, is_package)
            for target in loaded(name, module, known)
        }
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = {node}
            while (member := stack.pop()) != node:
                group.add(member)
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(shortest_cycle(graph, g) for g in groups if len(g) > 1)


def shortest_cycle(graph: Graph, group: set[str]) -> list[str]:
    """A shortest cycle from the group's first module back to itself (BFS)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                frontier.append(target)
    raise AssertionError(f"no cycle through {sorted(group)}")


@pytest.mark.parametrize("package", ["app", "workers/engine"])
def test_no_import_cycles(package: str) -> None:
    graph = import_graph(ROOT, package)
    assert len(graph) > 10, f"{package}: the walk found no modules"
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_checker_finds_cycles_and_skips_what_does_not_run(tmp_path: Path) -> None:
    sources = {
        "__init__.py": "from pkg import a\n",  # its own submodule: not a cycle
        "a.py": "from pkg import b\n",
        "b.py": "import pkg.sub.c\n",  # runs pkg/sub/__init__.py first
        "sub/__init__.py": "",
        "sub/c.py": "from ..a import thing\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from pkg import a\n\n\ndef f() -> None:\n    from pkg import b\n",
    }
    for name, text in sources.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.d"] == set()
    assert graph["pkg.b"] == {"pkg.sub", "pkg.sub.c"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
