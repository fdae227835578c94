"""rc1 rollback: operator `rollback` commands into a training engine, through
its real path (command drain -> Trainer.rollback -> Recovery: the fast cache,
else the verified checkpoint on disk), timed by the engine against
`--deadline-ms` (its `tolaria.rollback.deadline_exceeded_total` counter).

At each epoch-end snapshot (and the one made at set-up) the harness copies
the model and optimizer state; `--rollback-after` steps later it asks for
that snapshot back (memory), and as many steps after that for the epoch
end's checkpoint (disk). After each restore every model tensor and every
optimizer state tensor must equal the copy exactly: checked when the engine
reports the restore (its `tolaria.rollback.restored` event). A restore that
misses the deadline is a failure on Tolaria's emergency ladder (L3: the policy
turns conservative) but keeps the state it restored: the ladder does not roll
back again for it. Rollbacks the ladder makes for other failures are counted,
not checked. Six failures within 200 steps halt the run (L4), as RC1's drill
did. Same-run
baseline: a memcpy of the restored state's bytes on the same device."""

import argparse
from typing import Any

import torch

from load.scenarios.common import bench_trainer
from load.scenarios.rc1_workload import rc1_spec
from load.scenarios.rollback import _memcpy_gbps
from workers.engine.hooks import CheckpointInfo, EngineCommand, Hooks, Packet
from workers.engine.options import EngineOptions
from workers.engine.rollback import clone_state, state_bytes
from workers.engine.trainer import Trainer

DEADLINE_COUNTER = "tolaria.rollback.deadline_exceeded_total"


def _live(trainer: Trainer) -> dict[str, Any]:
    return {
        "model": trainer.parts.model.state_dict(),
        "optimizer": trainer.parts.optimizer.state_dict()["state"],
    }


def _equal(a: Any, b: Any) -> bool:
    """Same structure, and every tensor bit-for-bit equal."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class _Driver:
    """The hooks: captures each snapshot's state, sends the rollbacks, checks
    what each restore left in the live model and optimizer."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.trainer: Trainer | None = None
        self.expected: dict[int, Any] = {}  # snapshot step -> state copy
        self.checkpoints: dict[int, str] = {}  # step -> checkpoint id
        self.plan: list[tuple[int, str, int]] = []  # (at step, source, of step)
        self.sent: dict[str, int] = {}  # command id -> the step it restores
        self.pending: int | None = None  # the step the command in flight restores
        self.restores: list[dict[str, Any]] = []  # the operator's
        self.emergency: list[dict[str, Any]] = []  # the emergency ladder's
        self.escalations: list[str] = []  # the ladder's levels, in order
        self.rejected: list[str] = []

    def next_command(self) -> EngineCommand | None:
        trainer = self.trainer
        assert trainer is not None
        step = trainer.state.step
        if (
            step not in self.expected
            and f"snap-{step}" in trainer.recovery.snapshots.ids()
        ):
            self.expected[step] = clone_state(_live(trainer))
            self.plan.append((step + self.after, "memory", step))
            self.plan.append((step + 2 * self.after, "disk", step))
        due = next((p for p in self.plan if step >= p[0]), None)
        if due is None:
            return None
        self.plan.remove(due)
        _, source, of_step = due
        if source == "memory":
            target = f"snap-{of_step}"
        else:
            # The epoch end's checkpoint may still be on its writer thread:
            # wait for it here, outside the timed restore.
            trainer.recovery.wait()
            if of_step not in self.checkpoints:  # the set-up snapshot has none
                return None
            target = self.checkpoints[of_step]
        command_id = f"{source}-{len(self.sent) + 1}"
        self.sent[command_id] = of_step
        self.pending = of_step
        return EngineCommand(command_id, "rollback", {"checkpoint_id": target})

    def emit(self, packet: Packet) -> None:
        name = packet["name"]
        if name == "tolaria.emergency.escalated":
            self.escalations.append(str(packet["attrs"].get("name")))
        if name != "tolaria.rollback.restored":
            return
        result = packet["attrs"]
        if result.get("reason") != "operator rollback":
            self.emergency.append(result)  # the ladder's own rollback
            return
        # The operator's restore, before the engine judges its latency.
        assert self.trainer is not None and self.pending is not None
        exact = _equal(_live(self.trainer), self.expected[self.pending])
        self.restores.append({**result, "exact": exact})

    def ack(self, command_id: str, state: str, reason: str | None, result: Any) -> None:
        self.pending = None
        if state != "applied":
            self.rejected.append(f"{command_id}: {reason}")

    def on_checkpoint(self, info: CheckpointInfo) -> None:
        self.checkpoints[info.step] = info.id


def rollback(args: argparse.Namespace) -> dict[str, Any]:
    driver = _Driver(args.rollback_after)
    hooks = Hooks(
        emit=driver.emit,
        next_command=driver.next_command,
        ack=driver.ack,
        on_checkpoint=driver.on_checkpoint,
    )
    # Snapshots at set-up and at each epoch end only; a checkpoint at each
    # epoch end (checkpoint_every 0); the deadline under test.
    options = EngineOptions(rollback_deadline_ms=args.deadline_ms, snapshot_every=10**9)
    spec = rc1_spec(args, checkpoint_every=0)
    with bench_trainer(spec, hooks, device=args.device, options=options) as trainer:
        driver.trainer = trainer
        outcome = trainer.run()
        nbytes = state_bytes(trainer.recovery.core())
    if outcome.state not in ("completed", "halted"):
        raise RuntimeError(f"engine run ended {outcome.state}: {outcome.error}")
    memcpy_gbps = _memcpy_gbps(nbytes, 20, args.device)
    restores = driver.restores
    every = restores + driver.emergency
    return {
        "memory_ms": [r["latency_ms"] for r in restores if r["source"] == "memory"],
        "disk_ms": [r["latency_ms"] for r in restores if r["source"] == "disk"],
        "restores": len(restores),
        "exact": sum(bool(r["exact"]) for r in restores),
        "over_deadline": sum(r["latency_ms"] > args.deadline_ms for r in every),
        "emergency_rollbacks": len(driver.emergency),
        "emergency_ms": [r["latency_ms"] for r in driver.emergency],
        "escalations": driver.escalations,
        "outcome": outcome.state,
        "halt_reason": outcome.halt_reason,
        "deadline_exceeded_total": trainer.tm.counters.get(DEADLINE_COUNTER, 0),
        "rejected": driver.rejected,
        "state_bytes": nbytes,
        "memcpy_ms": nbytes / (memcpy_gbps * 1e9) * 1000,
    }
