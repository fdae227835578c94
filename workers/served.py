"""What this worker serves, as it reports it when it registers: the gateway
accepts a run only if some registered worker serves its task and policy."""

from typing import Any

from api_schemas.plugins import POLICY_GROUP, TASK_GROUP
from workers.engine.policy.loader import BUILTIN_POLICIES
from workers.engine.registry import served
from workers.engine.tasks import BUILTIN_TASKS
from workers.settings import WorkerSettings


def served_capabilities(settings: WorkerSettings) -> dict[str, Any]:
    """`tasks` and `policies` (built-ins and installed plug-ins) and the
    `import_paths` prefixes this worker allows (empty: none)."""
    return {
        "tasks": served(list(BUILTIN_TASKS), TASK_GROUP),
        "policies": served(list(BUILTIN_POLICIES), POLICY_GROUP),
        "import_paths": settings.import_prefixes,
    }
