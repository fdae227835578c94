"""Every error code the gateway can answer with is in `ErrorCode` (API.md:
`code` is one of a documented enum): a static scan of app/ for the places a
code is written, so a new code that is not declared fails here, not in a client."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from api_schemas import ErrorCode

APP = Path(__file__).resolve().parents[2] / "app"
# Where a code is written: `code=` arguments, `code = ...` class attributes,
# `CODE = ...` constants, `"code": ...` entries, a `codes` table's values, and
# the code argument of the error renderers.
RENDERERS = {"error_body": 0, "_render": 1}


def _code_nodes(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from (k.value for k in node.keywords if k.arg == "code")
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            index = RENDERERS.get(name)
            if index is not None and len(node.args) > index:
                yield node.args[index]
        elif isinstance(node, ast.Assign):
            names = {getattr(t, "id", "") for t in node.targets}
            if names & {"code", "CODE"}:
                yield node.value
            if "codes" in names and isinstance(node.value, ast.Dict):
                yield from node.value.values
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    yield value


def _pattern(node: ast.expr) -> str | None:
    """A literal code as a regex; an f-string's holes match any name part."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = [
            re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[a-z_]+"
            for v in node.values
        ]
        return "".join(parts)
    return None  # a variable passed along (`code=code`), checked where it is set


def written_codes() -> dict[str, str]:
    """Each code pattern written in app/, with the first file writing it."""
    found: dict[str, str] = {}
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in _code_nodes(tree):
            pattern = _pattern(node)
            if pattern is not None:
                found.setdefault(pattern, str(path.relative_to(APP.parent)))
    return found


def test_the_scan_finds_the_codes_it_should() -> None:
    found = written_codes()
    for code in ("run_not_found", "invalid_cursor", "validation_error", "not_found"):
        assert re.escape(code) in found, code


def test_every_code_the_gateway_writes_is_in_the_enum() -> None:
    declared = {c.value for c in ErrorCode}
    missing = {
        pattern: where
        for pattern, where in written_codes().items()
        if not any(re.fullmatch(pattern, code) for code in declared)
    }
    assert not missing, f"add these to api_schemas.errors.ErrorCode: {missing}"
