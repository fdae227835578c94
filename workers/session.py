"""One claimed run: the engine's hooks, progress, commands and the final report."""

import logging
import os
import queue
import threading
import time
import uuid
from typing import Any

from api_schemas.bus import (
    RUNS_GROUP,
    RUNS_STREAM,
    CommandAckEvent,
    RunAssignment,
    RunStateEvent,
    SignedCommand,
)
from api_schemas.enums import CommandState, CommandType, RejectionReason, RunState
from workers import bus, rank_lifetime
from workers.commands import CommandReader, check_command
from workers.context import WorkerContext
from workers.engine.hooks import (
    EngineCommand,
    Hooks,
    Progress,
    RunOutcome,
)
from workers.fence import STAND_DOWN_REASON, AttemptFence
from workers.frozen import ImportFreezer
from workers.metrics import observe_packet
from workers.priority import name_os_thread
from workers.progress import ProgressSender
from workers.resume import Start, build_trainer
from workers.retry import BLIPS, retrying
from workers.run_artifacts import RunArtifacts
from workers.telemetry import TelemetryPublisher

log = logging.getLogger("esper.worker.run")

FORCED_EXIT_CODE = 70
SHUTDOWN_REASON = "worker_shutdown"


class RunSession:
    """Drives one Trainer on the main thread; the reader and progress threads
    report around it. `finish` runs exactly once, whoever gets there first."""

    def __init__(
        self,
        ctx: WorkerContext,
        assignment: RunAssignment,
        entry_id: str,
        reader: CommandReader,
    ) -> None:
        self.ctx = ctx
        self.assignment = assignment
        self.run_id = assignment.run_id
        self.entry_id = entry_id
        s = ctx.settings
        self.telemetry = TelemetryPublisher(
            ctx.client,
            self.run_id,
            maxlen=s.telemetry_maxlen,
            flush_s=s.telemetry_flush_s,
            batch=s.telemetry_batch,
            emergency_max_per_min=s.emergency_max_per_min,
            emergency_threshold=s.emergency_threshold.value,
        )
        self.commands: queue.SimpleQueue[EngineCommand] = queue.SimpleQueue()
        self.freezer = ImportFreezer()  # torch's lazy imports out of gc's way
        self.hooks = Hooks(
            emit=self._emit,
            next_command=self._next_command,
            ack=self._ack,
            on_state=self._on_state,
        )
        self.trainer: Any = None
        self.start: Start | None = None  # where the run started (set when built)
        self.fence = AttemptFence(ctx.client, self.run_id, assignment.attempt)
        self.artifacts = RunArtifacts(
            ctx,
            self.run_id,
            attempt=assignment.attempt,
            keep=assignment.spec.checkpoint_keep,
            checkpoint_dir=s.checkpoint_root / self.run_id,
            emit=self._emit,
            publish=self._publish,
            current=lambda: not self.fence.stale,
        )
        self.artifacts.bind(self.hooks)  # checkpoints and files go to the store
        self.progress = Progress()  # the engine's, as the progress thread copied it
        self.progress_sender = ProgressSender(
            self._publish,
            run_id=self.run_id,
            worker_id=ctx.worker_id,
            attempt=assignment.attempt,
        )
        self.state: RunState | None = None
        self._finish_lock = threading.Lock()
        self._finished = threading.Event()
        self._halt: tuple[float, str | None] | None = None  # (monotonic, command id)
        self._shutdown_at: float | None = None
        self._internal_ids: set[str] = set()
        self._acked: set[str] = set()
        self._verifier_rejections = 0  # the reader thread's alone
        self.reader = reader
        self._progress_thread = threading.Thread(
            target=self._progress_loop, name="progress", daemon=True
        )

    # -- main thread ---------------------------------------------------------
    def execute(self) -> RunOutcome:
        self.telemetry.start()
        self._set_state(RunState.assigned)
        self.reader.watch_run(self.run_id)
        try:
            self.trainer, self.start = build_trainer(
                self.ctx, self.assignment, self.hooks, self.artifacts.store
            )
            self._set_state(RunState.running)
            if self.start is not None and self.start.event is not None:
                self._emit(self.start.event)  # run.resumed / run.forked
            self._progress_thread.start()
            outcome = self.trainer.run()
        except Exception as exc:  # the run fails; the worker lives on
            log.exception("run %s failed", self.run_id)
            outcome = RunOutcome("failed", error=f"{type(exc).__name__}: {exc}")
        return self.finish(outcome)[0]

    def request_shutdown(self) -> None:
        """SIGTERM/SIGINT: stop at the next step boundary; a second one halts."""
        if self._shutdown_at is None:
            self._shutdown_at = time.monotonic()
            stop_id = f"{SHUTDOWN_REASON}-{uuid.uuid4().hex[:8]}"
            self._internal_ids.add(stop_id)
            self.commands.put(EngineCommand(stop_id, CommandType.stop.value))
        else:
            self._set_halt(SHUTDOWN_REASON, None)

    # -- the end -------------------------------------------------------------
    def finish(
        self, outcome: RunOutcome, forced: bool = False
    ) -> tuple[RunOutcome, bool]:
        """Report the end once; the flag says whether this call did it."""
        with self._finish_lock:
            if self._finished.is_set():
                return outcome, False
            self._finished.set()
            outcome = self._annotate(outcome, forced)
            if not forced:  # a hung engine may hold its locks: skip progress()
                if self._progress_thread.is_alive():
                    self._progress_thread.join(2.0)
                self._snapshot()
            self.progress_sender.send(self.progress, force=True)
            self._settle_commands(outcome)
            # The final checkpoint and the model bundle in the store first.
            self.artifacts.close(2.0 if forced else self.ctx.settings.upload_drain_s)
            self._set_state(
                RunState(outcome.state),
                final=True,
                error=outcome.error,
                halt_reason=outcome.halt_reason,
                result=outcome.result,
            )
            self._ack_assignment()
        self.reader.unwatch_run(self.run_id)
        self.telemetry.close(timeout=2.0 if forced else 10.0)
        return outcome, True

    def _annotate(self, outcome: RunOutcome, forced: bool) -> RunOutcome:
        result = dict(outcome.result)
        error = outcome.error
        if forced:
            result["forced"] = True
        if self._shutdown_at is not None:
            result.setdefault("reason", SHUTDOWN_REASON)
            if outcome.state in ("cancelled", "failed", "halted"):
                error = error or SHUTDOWN_REASON
        halt_reason = outcome.halt_reason
        if outcome.state == "halted" and not halt_reason:
            halt_reason = self.hooks.halt_info.get("reason")
        return RunOutcome(outcome.state, error, halt_reason, result)

    def _settle_commands(self, outcome: RunOutcome) -> None:
        """Ack what the engine never got to, so no command stays dispatched."""
        if self._halt and self._halt[1] and self._halt[1] not in self._acked:
            applied = outcome.state == "halted"
            self._publish_ack(
                self._halt[1],
                CommandState.applied if applied else CommandState.rejected,
                None if applied else RejectionReason.run_ended,
                {"forced": bool(outcome.result.get("forced"))},
            )
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if command.id not in self._internal_ids:
                self._publish_ack(
                    command.id, CommandState.rejected, RejectionReason.run_ended, {}
                )

    def _ack_assignment(self) -> None:
        ack = self.ctx.client.xack
        try:
            retrying(lambda: ack(RUNS_STREAM, RUNS_GROUP, self.entry_id), attempts=20)
        except BLIPS:
            log.error("could not XACK %s", self.entry_id)

    # -- reader thread (CommandHandler) --------------------------------------
    def check(self, command: SignedCommand) -> None:
        s = self.ctx.settings
        check_command(
            command,
            s.keyring,
            self.ctx.ledger,
            run_id=self.run_id,
            max_age_s=s.command_max_age_s,
            max_skew_s=s.command_max_skew_s,
        )

    def deliver(self, command: SignedCommand) -> None:
        if command.type == CommandType.emergency_halt:
            self._set_halt(str(command.params.get("reason") or "operator"), command.id)
            return
        if command.type == CommandType.registry_reset:
            self.ctx.ledger.clear()
            self.ctx.ledger.remember(command.nonce)
        self.commands.put(EngineCommand(command.id, command.type, command.params))

    def reject(self, command_id: str, reason: str, message: str) -> None:
        """A command the verifier refused (signature, key, age, nonce, run or
        form): acked rejected, and reported in the run's telemetry as a
        critical event, so it takes the emergency lane to /ws/fleet: a forged
        or replayed command is an incident, not bulk telemetry."""
        self._verifier_rejections += 1
        where = {"step": self.progress.step, "epoch": self.progress.epoch}
        self._emit(
            {
                "kind": "metric",
                "name": "kasmina.command_verifier.rejections_total",
                "value": float(self._verifier_rejections),
                "level": "info",
                "attrs": {},
                **where,
            }
        )
        self._emit(
            {
                "kind": "event",
                "name": "kasmina.command_rejected",
                "value": reason,
                "level": "critical",
                "attrs": {"command_id": command_id, "reason": reason, "verifier": True},
                **where,
            }
        )
        self._publish_ack(
            command_id, CommandState.rejected, reason, {"message": message}
        )

    def _set_halt(self, reason: str, command_id: str | None) -> None:
        if self._halt is None:
            self.hooks.halt_info.update(reason=reason, command_id=command_id)
            self._halt = (time.monotonic(), command_id)
        elif command_id and command_id not in self._acked:
            # A second halt while halting: it is applied by the first one.
            self._publish_ack(
                command_id, CommandState.applied, None, {"already_halting": True}
            )
        self.hooks.halt.set()

    def tick(self) -> None:
        """Escalate a halt (or shutdown) that the training step does not honour."""
        if self._finished.is_set():
            return
        deadline = self.ctx.settings.halt_deadline_s
        now = time.monotonic()
        if self._shutdown_at is not None and now - self._shutdown_at > deadline:
            self._set_halt(SHUTDOWN_REASON, None)
        if self._halt is not None and now - self._halt[0] > deadline:
            log.error("halted step did not return within %.1f s; exiting", deadline)
            reason = self.hooks.halt_info.get("reason")
            if self.finish(RunOutcome("halted", halt_reason=reason), forced=True)[1]:
                rank_lifetime.kill_all()  # os._exit skips DistributedRun's join
                os._exit(FORCED_EXIT_CODE)

    # -- engine hooks (training thread) --------------------------------------
    def _emit(self, packet: dict[str, Any]) -> None:
        if self.fence.stale:  # another worker trains this run now
            return
        self.telemetry.emit(packet)
        observe_packet(packet)  # the worker's own /metrics; about a microsecond

    def _next_command(self) -> EngineCommand | None:
        try:
            return self.commands.get_nowait()
        except queue.Empty:
            return None

    def _ack(
        self, command_id: str, state: str, reason: str | None, result: dict[str, Any]
    ) -> None:
        if command_id in self._internal_ids:
            return
        self._publish_ack(command_id, CommandState(state), reason, result)

    def _on_state(self, state: str, info: dict[str, Any]) -> None:
        if state in (RunState.running, RunState.paused) and state != self.state:
            self._set_state(RunState(state), result=dict(info))

    # -- publishing ----------------------------------------------------------
    def _publish(self, event: Any) -> None:
        """Every event of this run on `esper:events` (none once stale)."""
        if not self.fence.stale:
            bus.publish_event(self.ctx.client, event)

    def _set_state(
        self, state: RunState, *, final: bool = False, **fields: Any
    ) -> None:
        """Report a state on `esper:events` and as a `run.state` packet.

        The final state goes to the telemetry stream first and is flushed, so a
        reader that sees the terminal event knows the stream is complete.
        """
        self.state = state
        self._emit(
            {
                "kind": "state",
                "name": "run.state",
                "value": str(state),
                "step": self.progress.step,
                "epoch": self.progress.epoch,
                "level": "info",
                "attrs": _state_attrs(fields),
            }
        )
        if final:
            self.telemetry.flush()
        self._publish(
            RunStateEvent(
                run_id=self.run_id,
                worker_id=self.ctx.worker_id,
                attempt=self.assignment.attempt,
                state=state,
                at=bus.utcnow(),
                **fields,
            ),
        )

    def _publish_ack(
        self,
        command_id: str,
        state: CommandState,
        reason: str | None,
        result: dict[str, Any],
    ) -> None:
        self._acked.add(command_id)
        self._publish(
            CommandAckEvent(
                command_id=command_id,
                run_id=self.run_id,
                worker_id=self.ctx.worker_id,
                attempt=self.assignment.attempt,
                state=state,
                reason=reason,
                result=result,
                step=self.progress.step,
            ),
        )

    def _progress_loop(self) -> None:
        name_os_thread("esper-progress")
        interval = self.ctx.settings.progress_interval_s
        while not self._finished.wait(interval):
            if self.fence.check():  # stop training now; nothing more is published
                self._set_halt(STAND_DOWN_REASON, None)
            self._snapshot()
            self.progress_sender.send(self.progress)

    def _snapshot(self) -> None:
        if self.trainer is not None:
            self.progress = self.trainer.progress()
            self.freezer.progressed(self.progress.step, self.progress.epoch)


def _state_attrs(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in (None, {})}
