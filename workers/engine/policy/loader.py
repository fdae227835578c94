"""Finding the policy a run names: the built-in heuristic or a plug-in factory.

Its own module so the interface (base.py) imports no policy: the heuristic
imports the interface, and a loader inside base.py made the two a cycle.
"""

import importlib

from workers.engine.policy.base import Policy
from workers.engine.policy.heuristic import HeuristicPolicy


def load_policy(name: str) -> Policy:
    """`heuristic` or an import path `package.module:factory`."""
    if name == "heuristic":
        return HeuristicPolicy()
    module_name, sep, attr = name.partition(":")
    if not sep:
        raise ValueError(
            f"unknown policy {name!r}: use 'heuristic' or package.module:factory"
        )
    factory = getattr(importlib.import_module(module_name), attr)
    policy: Policy = factory()
    if not callable(getattr(policy, "decide", None)):
        raise TypeError(f"policy from {name!r} has no decide(inputs) method")
    return policy
