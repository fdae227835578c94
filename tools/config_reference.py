"""docs/configuration.md, generated from the settings classes.

`python -m tools.config_reference > docs/configuration.md` (`make config-doc`).
Every `ESPER_*` variable a process reads is a field of a settings class (the
gateway's `app.settings.Settings`, the worker's `workers.settings.WorkerSettings`)
or, for the few read with `os.environ` directly, a row of `OTHER_VARIABLES`
below. tests/unit/test_config_reference.py fails when the committed document is
stale or when the code names a variable this document lacks.
"""

import json
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from app.settings import Settings
from workers.settings import WorkerSettings

PREFIX = "ESPER_"


class Group(Enum):
    """Sections of the document, in order: who reads the variables."""

    SHARED = "Gateway and worker"
    GATEWAY = "Gateway (`esper gateway`, `uvicorn app.main:create_app`)"
    WORKER = "Worker (`esper worker`, `python -m workers`)"
    CLI = "The `esper` command (client)"
    TESTS = "Tests and benchmarks"


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    default: str
    description: str
    group: Group


# Read with os.environ where they are used, not through a settings class: the
# worker's metrics port (workers/metrics.py, read before the settings exist),
# the client's connection, and the test suite's knobs.
OTHER_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "ESPER_WORKER_METRICS_PORT",
        "int",
        "`0`",
        "Port of the worker's Prometheus `/metrics` endpoint; 0 disables it "
        "(workers/metrics.py). Scrape it from infra/prometheus.",
        Group.WORKER,
    ),
    Variable(
        "ESPER_URL",
        "str",
        "unset",
        "Gateway URL the client uses (`esper runs ...`, the runbook's curl lines).",
        Group.CLI,
    ),
    Variable(
        "ESPER_TOKEN",
        "str",
        "unset",
        "API token the client sends as `Authorization: Bearer`. A secret.",
        Group.CLI,
    ),
    Variable(
        "ESPER_TEST_POSTGRES_URL",
        "str",
        "unset",
        "PostgreSQL for the tests (`postgresql://postgres@127.0.0.1:5432/test`); "
        "unset: the PostgreSQL tests skip, saying so.",
        Group.TESTS,
    ),
    Variable(
        "ESPER_TEST_REDIS_DB",
        "int",
        "`9`",
        "Redis database number of the tests that drive the bus directly "
        "(keeps two checkouts apart on one server).",
        Group.TESTS,
    ),
    Variable(
        "ESPER_FUZZ_SECONDS",
        "int",
        "`30`",
        "Fuzzing budget per database of tests/integration/gateway/test_fuzz.py.",
        Group.TESTS,
    ),
    Variable(
        "ESPER_DOC_SCREENSHOTS",
        "bool",
        "unset",
        "`1`: the browser tests rewrite docs/screenshots/ (else test-artifacts/).",
        Group.TESTS,
    ),
    Variable(
        "ESPER_FUZZ_SEED",
        "int",
        "unset",
        "Replays a schemathesis run by its seed.",
        Group.TESTS,
    ),
    Variable(
        "ESPER_FUZZ_KEEP_KEY",
        "str",
        "set by the test",
        "The API key id the fuzzer's hooks must not revoke (internal to the test).",
        Group.TESTS,
    ),
    Variable(
        "ESPER_DDP_TEST_DEVICE",
        "str",
        "`cpu`",
        "`cuda` runs the distributed tests on two GPUs over NCCL.",
        Group.TESTS,
    ),
)

SETTINGS_CLASSES: dict[Group, type[BaseSettings]] = {
    Group.GATEWAY: Settings,
    Group.WORKER: WorkerSettings,
}


def type_name(annotation: Any) -> str:
    """`str | None` -> `str`, `dict[str, Any]` -> `JSON object`, `Path` -> `path`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
    ):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(type_name(a) for a in args)
    if typing.get_origin(annotation) is dict or annotation is dict:
        return "JSON object"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if isinstance(value, dict):
        return f"`{json.dumps(value)}`"
    if isinstance(value, str) and value == "":
        return "empty"
    if isinstance(value, Path) and not value.is_absolute():
        return f"`./{value}`"
    return f"`{value}`"


def constraints(field: FieldInfo) -> str:
    """`ge`/`le`/`gt`/`lt` bounds, as a short suffix for the description."""
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = [
        f"{words[name]} {getattr(item, name)}"
        for item in field.metadata
        for name in words
        if getattr(item, name, None) is not None
    ]
    return f" ({', '.join(found)})" if found else ""


def class_variables(cls: type[BaseSettings], group: Group) -> Iterator[Variable]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    for name, field in cls.model_fields.items():
        yield Variable(
            name=(prefix + name).upper(),
            type=type_name(field.annotation),
            default=default_text(field),
            description=(field.description or "") + constraints(field),
            group=group,
        )


def all_variables() -> list[Variable]:
    """Every documented variable once; a field both classes declare is SHARED
    (tests/unit/test_config_reference.py checks the two declarations agree)."""
    per_class = {
        group: {v.name: v for v in class_variables(cls, group)}
        for group, cls in SETTINGS_CLASSES.items()
    }
    gateway, worker = per_class[Group.GATEWAY], per_class[Group.WORKER]
    shared = gateway.keys() & worker.keys()
    found: list[Variable] = []
    for name, var in gateway.items():
        group = Group.SHARED if name in shared else Group.GATEWAY
        found.append(Variable(var.name, var.type, var.default, var.description, group))
    found += [v for n, v in worker.items() if n not in shared]
    found += OTHER_VARIABLES
    return found


HEADER = """\
# Configuration reference

<!-- Generated by `python -m tools.config_reference` (`make config-doc`) from the
settings classes (app/settings.py, workers/settings.py) and
tools/config_reference.py's OTHER_VARIABLES. Do not edit by hand:
tests/unit/test_config_reference.py fails when this file is stale. -->

Every Esper process reads `ESPER_`-prefixed environment variables (pydantic-settings:
names are case-insensitive; booleans take `1`/`0`, `true`/`false`; JSON objects
are JSON text). Variables of the other processes are ignored, so one environment
file can serve a whole deployment. Production needs at least
`ESPER_DATABASE_URL` (PostgreSQL), `ESPER_REDIS_URL`, `ESPER_ARTIFACT_URL` (an
object store or a shared file system), `ESPER_LEYLINE_SECRET` and
`ESPER_ADMIN_TOKEN`; docs/deployment.md shows them set in compose and Kubernetes.
"""


def render_rows(variables: Iterable[Variable]) -> list[str]:
    rows = ["| variable | type | default | what |", "|---|---|---|---|"]
    for v in variables:
        what = v.description.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{v.name}` | {v.type} | {v.default} | {what} |")
    return rows


def render() -> str:
    variables = all_variables()
    lines = [HEADER]
    for group in Group:
        members = sorted(
            (v for v in variables if v.group is group), key=lambda v: v.name
        )
        if members:
            lines += [f"## {group.value}", "", *render_rows(members), ""]
    return "\n".join(lines)


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
