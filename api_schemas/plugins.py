"""Which tasks and policies a run may name: registered names, and import paths
only where the deployment allows them.

A run spec is not trusted (SECURITY.md): an import path `pkg.mod:factory` makes
the worker import that module and call that attribute, so one is accepted only
when its module falls under a prefix of `ESPER_ALLOW_IMPORT_PATHS`. The gateway
and the worker both decide with these functions, so they cannot disagree.
"""

from collections.abc import Mapping, Sequence

ALLOW_ENV = "ESPER_ALLOW_IMPORT_PATHS"
ANY = "*"
TASK_GROUP = "esper.tasks"
POLICY_GROUP = "esper.policies"
BUILTIN_POLICIES = ("heuristic", "learned")
_TRUE = {"1", "true", "yes", "on"}


def is_import_path(name: str) -> bool:
    """`package.module:factory`, every part an identifier."""
    module, sep, attr = name.partition(":")
    parts = module.split(".")
    return bool(sep) and attr.isidentifier() and all(p.isidentifier() for p in parts)


def import_prefixes(raw: str | None, local_mode: bool) -> list[str]:
    """The allowed module prefixes: an explicit value wins (empty: none);
    unset, any module under `esper up` (local mode) and none elsewhere."""
    if raw is None:
        return [ANY] if local_mode else []
    return [p.strip() for p in raw.split(",") if p.strip()]


def prefixes_from_env(env: Mapping[str, str]) -> list[str]:
    """As the settings read them, for code that has no settings (the engine)."""
    local = env.get("ESPER_LOCAL_MODE", "").strip().lower() in _TRUE
    return import_prefixes(env.get(ALLOW_ENV), local)


def import_path_allowed(name: str, prefixes: Sequence[str]) -> bool:
    """`tests.` allows `tests.x.y:f`; `tests` allows `tests` and `tests.*`."""
    if not is_import_path(name):
        return False
    module = name.partition(":")[0]
    return any(_under(module, p) for p in prefixes)


def _under(module: str, prefix: str) -> bool:
    if prefix == ANY:
        return True
    if prefix.endswith("."):
        return module.startswith(prefix)
    return module == prefix or module.startswith(prefix + ".")
