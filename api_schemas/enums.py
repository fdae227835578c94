"""Enumerations shared by the gateway, the workers and clients (Leyline)."""

from enum import StrEnum


class RunState(StrEnum):
    """Lifecycle of a run: queued -> assigned -> running <-> paused -> terminal."""

    queued = "queued"
    assigned = "assigned"
    running = "running"
    paused = "paused"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    halted = "halted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_RUN_STATES

    @property
    def live(self) -> bool:
        return self in LIVE_RUN_STATES


TERMINAL_RUN_STATES = frozenset(
    {RunState.completed, RunState.failed, RunState.cancelled, RunState.halted}
)
LIVE_RUN_STATES = frozenset({RunState.assigned, RunState.running, RunState.paused})
# The same sets as plain strings: for SQL `IN` lists and for states read back as
# JSON (from the API, the bus or a packet), written once with the sets above.
TERMINAL_RUN_STATE_VALUES = frozenset(state.value for state in TERMINAL_RUN_STATES)
LIVE_RUN_STATE_VALUES = frozenset(state.value for state in LIVE_RUN_STATES)


class CommandType(StrEnum):
    emergency_halt = "emergency_halt"
    pause = "pause"
    resume = "resume"
    stop = "stop"
    rollback = "rollback"
    seed_enable = "seed_enable"
    seed_disable = "seed_disable"
    registry_reset = "registry_reset"
    profile = "profile"


class CommandState(StrEnum):
    """pending (committed) -> dispatched (on the bus) -> applied|rejected|expired."""

    pending = "pending"
    dispatched = "dispatched"
    applied = "applied"
    rejected = "rejected"
    expired = "expired"

    @property
    def final(self) -> bool:
        return self in {
            CommandState.applied,
            CommandState.rejected,
            CommandState.expired,
        }


class RejectionReason(StrEnum):
    """Why a worker rejected a command (the ack's `reason`)."""

    invalid_signature = "invalid_signature"
    unknown_key = "unknown_key"
    stale_command = "stale_command"
    issued_in_future = "issued_in_future"
    nonce_replayed = "nonce_replayed"
    wrong_run = "wrong_run"
    malformed = "malformed"
    run_ended = "run_ended"


class WorkerState(StrEnum):
    """draining: asked to drain (or shutting down), finishing its run;
    drained: it finished and claims nothing until it is restarted."""

    idle = "idle"
    busy = "busy"
    draining = "draining"
    drained = "drained"
    lost = "lost"


class PacketKind(StrEnum):
    metric = "metric"
    event = "event"
    seed = "seed"
    state = "state"
    command = "command"


class Level(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class SeedStage(StrEnum):
    """Kasmina's twelve seed lifecycle stages (DOMAIN.md, Esper's Leyline).

    UNKNOWN is a slot's state before it is registered; TERMINATED is final when
    the run ends or the slot is torn down. The other ten follow DOMAIN.md.
    """

    UNKNOWN = "UNKNOWN"
    DORMANT = "DORMANT"
    GERMINATED = "GERMINATED"
    TRAINING = "TRAINING"
    BLENDING = "BLENDING"
    SHADOWING = "SHADOWING"
    PROBATIONARY = "PROBATIONARY"
    FOSSILIZED = "FOSSILIZED"
    CULLED = "CULLED"
    EMBARGOED = "EMBARGOED"
    RESETTING = "RESETTING"
    TERMINATED = "TERMINATED"


class SeedOutcome(StrEnum):
    """How a seed's life ended, or that it has not (API.md, Seed)."""

    live = "live"
    fossilised = "fossilised"
    culled = "culled"


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    def allows(self, needed: "Role") -> bool:
        order = [Role.viewer, Role.operator, Role.admin]
        return order.index(self) >= order.index(needed)


class RestartPolicy(StrEnum):
    resume = "resume"
    fail = "fail"


class BlendMode(StrEnum):
    convex = "convex"
    residual = "residual"
    channel = "channel"
    confidence = "confidence"


class GradientAggregation(StrEnum):
    """How the gradients of several blended seeds' paths into the host combine."""

    sum = "sum"
    pcgrad = "pcgrad"
