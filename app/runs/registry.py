"""The tasks and policies the fleet serves, and the check a run spec's names
must pass (SECURITY.md: a run spec is not trusted).

Served: the built-ins (every worker has them) plus the plug-ins each worker
reported when it registered, read from the worker rows. The rows outlive the
processes, so a run still queues while its workers restart. An import path is
accepted only under the gateway's ESPER_ALLOW_IMPORT_PATHS; the worker checks
every name again before it imports anything (workers/engine/registry.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunCreate
from api_schemas.catalogue import TASKS_BY_NAME
from api_schemas.plugins import BUILTIN_POLICIES, import_path_allowed
from app.errors import Unprocessable
from app.models import Worker


@dataclass
class Served:
    tasks: set[str] = field(default_factory=lambda: set(TASKS_BY_NAME))
    policies: set[str] = field(default_factory=lambda: set(BUILTIN_POLICIES))


async def served(session: AsyncSession) -> Served:
    """The union of what registered workers serve, built-ins included."""
    names = Served()
    rows = (await session.exec(select(col(Worker.capabilities)))).all()
    for caps in rows:
        names.tasks |= _names(caps, "tasks")
        names.policies |= _names(caps, "policies")
    return names


def _names(caps: object, key: str) -> set[str]:
    # A row is what a worker sent: trust its shape no further than this.
    listed = caps.get(key) if isinstance(caps, dict) else None
    if not isinstance(listed, list):
        return set()
    return {n for n in listed if isinstance(n, str)}


async def check_names(
    session: AsyncSession, spec: RunCreate, import_prefixes: Sequence[str]
) -> None:
    """422 `unknown_task` / `unknown_policy` for a name nothing serves."""
    names = await served(session)
    _check(spec.task, names.tasks, import_prefixes, "task")
    _check(spec.morphogenesis.policy, names.policies, import_prefixes, "policy")


def _check(name: str, known: set[str], prefixes: Sequence[str], kind: str) -> None:
    if name in known or import_path_allowed(name, prefixes):
        return
    allowed = ",".join(prefixes) or "none"
    raise Unprocessable(
        f"Unknown {kind} {name!r}: no registered worker serves it (served: "
        f"{sorted(known)}), and it is not an import path this deployment allows "
        f"(ESPER_ALLOW_IMPORT_PATHS: {allowed}).",
        code=f"unknown_{kind}",
    )
