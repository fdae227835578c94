"""One renderer for every client command: a rich table, JSON or YAML."""

import json
from typing import Any

from rich.console import Console
from rich.table import Table


def as_data(value: Any) -> Any:
    """SDK models (attrs, `to_dict`) and lists of them as plain JSON data."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [as_data(item) for item in value]
    return value


def render(
    console: Console,
    value: Any,
    fmt: str,
    columns: list[str],
    title: str | None = None,
) -> None:
    data = as_data(value)
    # JSON and YAML go out verbatim (no rich wrapping or markup): for scripts.
    if fmt == "json":
        console.file.write(json.dumps(data, indent=2, default=str) + "\n")
    elif fmt == "yaml":
        import yaml  # noqa: PLC0415 (only for this format)

        console.file.write(yaml.safe_dump(data, sort_keys=False))
    else:
        console.print(_table(data, columns, title))


def _table(data: Any, columns: list[str], title: str | None) -> Table:
    rows = data if isinstance(data, list) else [data]
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(_lookup(row, column)) for column in columns))
    return table


def _lookup(row: dict[str, Any], dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
