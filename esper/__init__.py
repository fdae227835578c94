"""Esper's user-facing library: what a user imports to work with the models
that Esper runs produce (`esper.models.load`). It imports the shared contracts
and the training engine's pure-torch modules, never the gateway (`app`) or the
worker runtime (Redis, the runner), so it works on any machine with torch."""
