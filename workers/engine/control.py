"""Tolaria's control at step boundaries: operator commands, pause, halt, and the
emergency ladder's actions, as a part of Trainer."""

import time

from workers.engine.commands import apply_command
from workers.engine.emergency import Level
from workers.engine.hooks import RunOutcome
from workers.engine.runtime import _describe


class Control:
    """Step-boundary and emergency methods of Trainer (see trainer.py)."""

    # ---- step boundary: commands, pause, halt ---------------------------------

    def _boundary(self) -> RunOutcome | None:
        if self.hooks.halt.is_set():
            self._see_halt()
            return self._halt()
        self._drain_commands()
        if self.paused:
            self._wait_while_paused()
        if self.hooks.halt.is_set():
            self._see_halt()
            return self._halt()
        if self.stop_requested:
            return self._finish("cancelled")
        return None

    def _drain_commands(self) -> None:
        while (command := self.hooks.next_command()) is not None:
            try:
                state, reason, result = apply_command(self, command)
            except Exception as exc:  # a broken command must not kill the run
                state, reason, result = "rejected", _describe(exc), {}
            if state == "rejected":
                self.tm.event(
                    "kasmina.command_rejected",
                    "warning",
                    {"command_id": command.id, "type": command.type, "reason": reason},
                )
            self.hooks.ack(command.id, state, reason, result)
            if self.paused and command.type == "pause" and state == "applied":
                return  # enter the pause now; later commands are read while paused

    def _wait_while_paused(self) -> None:
        self._flush_pending()
        self.hooks.on_state("paused", {"step": self.step})
        self.tm.state("paused")
        while self.paused and not self.stop_requested and not self.hooks.halt.is_set():
            time.sleep(self.opt.pause_poll_s)
            self._drain_commands()
        if not self.paused:
            self.hooks.on_state("running", {"step": self.step})
            self.tm.state("running")

    def _see_halt(self) -> None:
        if self.halt_seen_step is None:
            self.halt_seen_step = self.step

    def _halt(self) -> RunOutcome:
        """L4: no more updates; write a checkpoint and report halted."""
        self._see_halt()
        self._flush_pending()
        reason = str(
            self.hooks.halt_info.get("reason")
            or self.auto_halt_reason
            or "emergency_halt"
        )
        self.ladder.level = Level.HALT
        self.tm.metric("tolaria.emergency.level", float(Level.HALT))
        self.tm.count("tolaria.emergency.halts_total")
        self.tm.event(
            "tolaria.emergency.halt", "critical", {"reason": reason, "step": self.step}
        )
        info = self._checkpoint(good=False)
        seen = self.halt_seen_step if self.halt_seen_step is not None else self.step
        return RunOutcome(
            "halted",
            halt_reason=reason,
            result=self._result(
                {
                    "steps_after_halt": self.step - seen,
                    "last_step": self.step,
                    "halt_observed_step": seen,
                    "checkpoint_id": info.id,
                }
            ),
        )

    # ---- emergencies and rollback ------------------------------------------------

    def _loss_trouble(self, loss: float) -> bool:
        """Classify a loss; act on the ladder. True when the step must not count."""
        verdict = self.ladder.classify_loss(self.step, loss)
        if verdict is None:
            return False
        level, reason = verdict
        self._escalate(level, reason)
        return level >= Level.ELEVATED

    def _escalate(self, level: Level, reason: str) -> None:
        self.ladder.level = max(self.ladder.level, level)
        severity = "critical" if level >= Level.CONSERVATIVE else "warning"
        self.tm.metric("tolaria.emergency.level", float(level))
        self.tm.event(
            "tolaria.emergency.escalated",
            severity,
            {"level": int(level), "name": level.name, "reason": reason},
        )
        if level >= Level.HALT:
            self.auto_halt_reason = f"L4 emergency: {reason}"
            self.hooks.halt_info.setdefault("reason", self.auto_halt_reason)
            self.hooks.halt.set()
            return
        if level >= Level.CONSERVATIVE and self.tamiyo is not None:
            self.tamiyo.risk.enter_conservative(self.step)
            self.tm.event("tamiyo.conservative_entered", "warning", {"reason": reason})
        if level >= Level.ELEVATED:
            self._emergency_rollback(reason)
