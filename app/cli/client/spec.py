"""A run spec from a YAML or JSON file, with `--name` and `--set key=value`
overrides (dotted keys reach into maps: `--set morphogenesis.enabled=false`)."""

import json
from pathlib import Path
from typing import Any

from app.cli.client.session import CliFailure, ExitCode


def _parse_value(text: str) -> Any:
    """`--set` values are YAML scalars (numbers, booleans, null, lists)."""
    try:
        import yaml  # noqa: PLC0415

        return yaml.safe_load(text)
    except ImportError:
        try:
            return json.loads(text)
        except ValueError:
            return text


def load_spec(path: Path, name: str | None, overrides: list[str]) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as error:
        raise CliFailure(f"cannot read {path}: {error}", ExitCode.USAGE) from None
    spec = _parse_document(path, text)
    if name:
        spec["name"] = name
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliFailure(f"--set wants key=value, got {item!r}", ExitCode.USAGE)
        _assign(spec, key.split("."), _parse_value(value))
    return spec


def _parse_document(path: Path, text: str) -> dict[str, Any]:
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise CliFailure(f"{path}: {error}", ExitCode.USAGE) from None
    else:
        import yaml  # noqa: PLC0415

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise CliFailure(f"{path}: {error}", ExitCode.USAGE) from None
    if not isinstance(data, dict):
        raise CliFailure(f"{path}: a run spec is a mapping", ExitCode.USAGE)
    return data


def _assign(spec: dict[str, Any], keys: list[str], value: Any) -> None:
    node = spec
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            message = f"--set {'.'.join(keys)}: {key} is not a map"
            raise CliFailure(message, ExitCode.USAGE)
        node = child
    node[keys[-1]] = value
