"""Schemathesis hooks for the fuzz run (test_fuzz.py), loaded by `st run` from
SCHEMATHESIS_HOOKS. They keep the run able to test: nothing here hides a
response from the checks."""

import os
import uuid
from typing import Any

import schemathesis

# Set by test_fuzz.py: the id of the admin key the run authenticates with.
KEEP_KEY_ENV = "ESPER_FUZZ_KEEP_KEY"
# No worker serves the fuzz stack, so a command is never acked: `?wait=30` would
# hold one of the run's two connections for 30 s and starve the rest.
MAX_WAIT_S = 0.2


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext,
    case: schemathesis.Case[Any],
    kwargs: dict[str, Any],
) -> None:
    """Spare the run's own key, and keep command waits short."""
    label = case.operation.label
    params = case.path_parameters
    # The stateful phase follows POST /keys and GET /keys to DELETE: revoking
    # the run's key would leave every later request a 401.
    keep = os.environ.get(KEEP_KEY_ENV)
    if (
        label == "DELETE /api/v1/keys/{key_id}"
        and params
        and params.get("key_id") == keep
    ):
        params["key_id"] = str(uuid.uuid4())
    if label == "POST /api/v1/runs/{run_id}/commands" and case.query:
        wait = case.query.get("wait")
        if isinstance(wait, int | float) and not isinstance(wait, bool):
            case.query["wait"] = min(wait, MAX_WAIT_S)
