"""The tasks and policies this worker serves: built-ins, plug-ins installed as
entry points (`esper.tasks`, `esper.policies`), and import paths only where
`ESPER_ALLOW_IMPORT_PATHS` allows them.

A name is resolved here before anything is imported, so a run spec naming a
module the deployment did not allow fails its run and never runs that module's
code (SECURITY.md). Entry points are read on each call: a plug-in installed
while the worker runs is seen by its next run.
"""

import importlib
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from api_schemas.plugins import import_path_allowed, is_import_path, prefixes_from_env


class UnknownName(ValueError):
    """A task or policy this worker does not serve."""


def plugins(group: str) -> dict[str, EntryPoint]:
    """Installed entry points of `group`, by name."""
    return {ep.name: ep for ep in entry_points(group=group)}


def served(builtins: Sequence[str], group: str) -> list[str]:
    """Every name this worker answers to (what it reports when it registers)."""
    return sorted(set(builtins) | set(plugins(group)))


def resolve(
    name: str,
    kind: str,
    builtins: Mapping[str, Any],
    group: str,
    prefixes: Sequence[str] | None = None,
) -> Any:
    """The factory `name` stands for; UnknownName before importing anything
    the deployment did not install or allow."""
    if name in builtins:  # a plug-in cannot shadow a built-in
        return builtins[name]
    installed = plugins(group)
    if name in installed:
        return installed[name].load()
    allowed = prefixes_from_env(os.environ) if prefixes is None else prefixes
    if import_path_allowed(name, allowed):
        return _import_attr(name)
    raise UnknownName(_refusal(name, kind, sorted({*builtins, *installed}), allowed))


def _refusal(name: str, kind: str, names: list[str], allowed: Sequence[str]) -> str:
    if is_import_path(name):
        return (
            f"{kind} {name!r} is an import path this deployment does not allow "
            f"(ESPER_ALLOW_IMPORT_PATHS: {','.join(allowed) or 'none'}); "
            f"served: {names}"
        )
    return f"unknown {kind} {name!r}; served: {names}"


def _import_attr(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)
