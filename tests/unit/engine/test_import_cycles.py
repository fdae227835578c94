"""No import cycle runs through the seed manager's or the policy's modules.

Read from the source, not by importing: every `import` statement counts
(inside functions too, where a cycle hides until the call), except those under
`if TYPE_CHECKING:`, which never run. A cycle may pass through any engine
module; only those touching seeds/ or policy/ fail this test.
"""

import ast
from pathlib import Path

import workers.engine

ENGINE = Path(workers.engine.__file__).parent
WATCHED = ("workers.engine.seeds", "workers.engine.policy")


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(tree: ast.AST, known: set[str]) -> set[str]:
    """The engine modules an AST imports (`from pkg import mod` names mod)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return found & known


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in ENGINE.rglob("*.py")}
    known = set(paths)
    return {
        name: imported(ast.parse(path.read_text()), known) - {name}
        for name, path in paths.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_touches_seeds_or_policy() -> None:
    graph = import_graph()
    assert "workers.engine.seeds.manager" in graph  # the walk found the source
    bad = [c for c in cycles(graph) if any(m.startswith(WATCHED) for m in c)]
    assert bad == []


def test_the_walk_sees_a_cycle_hidden_in_a_function() -> None:
    graph = {
        "a": imported(ast.parse("import b"), {"a", "b"}),
        "b": imported(ast.parse("def f():\n    from a import x"), {"a", "b"}),
    }
    assert cycles(graph) == [{"a", "b"}]
    hidden = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n import a")
    assert imported(hidden, {"a"}) == set()
