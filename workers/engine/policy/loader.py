"""Finding the policy a run names: the built-in heuristic, an entry-point
plug-in (`esper.policies`), or an import path the deployment allows.

Its own module so the interface (base.py) imports no policy: the heuristic
imports the interface, and a loader inside base.py made the two a cycle.
"""

from collections.abc import Callable
from typing import Any

from api_schemas.plugins import POLICY_GROUP
from workers.engine.policy.base import Policy
from workers.engine.policy.heuristic import HeuristicPolicy
from workers.engine.policy.learned import LearnedPolicy
from workers.engine.registry import resolve

BUILTIN_POLICIES: dict[str, Callable[..., Policy]] = {
    "heuristic": HeuristicPolicy,
    "learned": LearnedPolicy,
}


def load_policy(name: str, options: dict[str, Any] | None = None) -> Policy:
    """A served policy by name, built with the spec's `policy_options` as
    keyword arguments; registry.UnknownName (a ValueError) for one this worker
    does not serve, raised before anything is imported."""
    factory = resolve(name, "policy", BUILTIN_POLICIES, POLICY_GROUP)
    policy: Policy = factory(**(options or {}))
    if not callable(getattr(policy, "decide", None)):
        raise TypeError(f"policy from {name!r} has no decide(inputs) method")
    return policy
