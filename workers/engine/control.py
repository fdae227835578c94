"""Tolaria's step-boundary control: operator commands drained and acked, the
decisions the ranks share carried out, and the named methods a command calls
(`commands.Controls`). It changes the loop's state only through those methods.
"""

from typing import Any

from workers.engine.build import Parts
from workers.engine.commands import apply_command
from workers.engine.hooks import Hooks
from workers.engine.policy.tamiyo import execute
from workers.engine.profiling import Profiler
from workers.engine.recovery import Recovery
from workers.engine.runtime import describe
from workers.engine.seeds.manager import SeedManager
from workers.engine.state import TrainState
from workers.engine.strategy import Received, Strategy
from workers.engine.telemetry import Telemetry


class RunControl:
    def __init__(
        self,
        state: TrainState,
        hooks: Hooks,
        telemetry: Telemetry,
        strategy: Strategy,
        parts: Parts,
        recovery: Recovery,
        profiler: Profiler,
    ) -> None:
        self.state, self.hooks, self.tm = state, hooks, telemetry
        self.strategy, self.parts, self.recovery = strategy, parts, recovery
        self.profiler = profiler

    def drain(self) -> None:
        """Apply what arrived since the last boundary, each command acked once."""
        for received in self.strategy.boundary(self.state.paused):
            self._carry_out(received)
        while (command := self.hooks.next_command()) is not None:
            try:
                state, reason, result = apply_command(self, command)
            except Exception as exc:  # a broken command must not kill the run
                state, reason, result = "rejected", describe(exc), {}
            if state == "rejected":
                attrs = {"command_id": command.id, "type": command.type}
                self.tm.event(
                    "kasmina.command_rejected", "warning", {**attrs, "reason": reason}
                )
            self.hooks.ack(command.id, state, reason, result)
            if self.state.paused and command.type == "pause" and state == "applied":
                return  # enter the pause now; later commands are read while paused

    def _carry_out(self, received: Received) -> None:
        """A decision every rank takes at this boundary (DDP)."""
        decision, context = received
        tamiyo = self.parts.tamiyo
        if tamiyo is not None and context is not None:
            tamiyo.carry_out(*context, decision)
        else:
            execute(self.parts.seeds, decision)

    # ---- Controls -------------------------------------------------------------

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def seeds(self) -> SeedManager | None:
        return self.parts.seeds

    def pause(self) -> bool:
        was, self.state.paused = self.state.paused, True
        return not was

    def resume(self) -> bool:
        was, self.state.paused = self.state.paused, False
        return was

    def request_stop(self) -> None:
        self.state.stop_requested = True

    def request_halt(self, reason: str) -> None:
        self.hooks.halt_info.setdefault("reason", reason)
        self.hooks.halt.set()

    def rollback(self, target: str | None, reason: str) -> dict[str, Any]:
        return self.recovery.rollback(target, reason)

    def reset_registry(self) -> int:
        cleared = self.parts.cache.clear()
        self.tm.event("kasmina.registry_reset", "info", {"cleared": cleared})
        return cleared

    def profile(self, steps: int) -> dict[str, Any]:
        if self.strategy.collective.rank != 0:  # the writing rank records
            return {"recorded_by": "rank 0"}
        return self.profiler.request(steps, self.state.step, cuda=self.parts.cuda)
