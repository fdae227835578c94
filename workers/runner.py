"""The worker's Redis side: register, heartbeat, claim one run at a time, drain."""

import logging
import os
import socket
import uuid
from typing import Any

import redis
import torch
from pydantic import ValidationError

from api_schemas.bus import (
    DATA_FIELD,
    RUNS_GROUP,
    RUNS_STREAM,
    RunAssignment,
    RunStateEvent,
    WorkerEvent,
    range_reply,
    read_reply,
    worker_drain_key,
)
from api_schemas.enums import RunState, WorkerState
from workers import bus
from workers.commands import CommandHandler, CommandReader
from workers.context import WorkerContext
from workers.device import can_serve, describe
from workers.fence import ended_by_gateway
from workers.frozen import release_frozen
from workers.idle import IdleCommands
from workers.liveness import Heartbeat
from workers.metrics import metrics_port, start_metrics_server
from workers.nonce import NonceLedger
from workers.priority import lower_this_thread, name_os_thread
from workers.served import served_capabilities
from workers.session import RunSession
from workers.settings import WorkerSettings

log = logging.getLogger("esper.worker")


def default_worker_id(device: str) -> str:
    return f"{socket.gethostname()}-{device.replace(':', '')}-{uuid.uuid4().hex[:6]}"


class Runner:
    """One process, one device, one run at a time."""

    def __init__(
        self, settings: WorkerSettings, device: str, worker_id: str | None = None
    ) -> None:
        ledger = NonceLedger(settings.nonce_capacity, settings.nonce_ttl_s)
        self.ctx = WorkerContext(
            client=bus.connect(settings.redis_url),
            settings=settings,
            worker_id=worker_id or default_worker_id(device),
            device=device,
            ledger=ledger,
        )
        self.session: RunSession | None = None
        self.idle = IdleCommands(self.ctx)
        self.heartbeat = Heartbeat(self.ctx)
        self.reader = CommandReader(self.ctx.client, self._command_handler)
        self.skipped: set[str] = set()
        self.exit_code = 0  # 3: the device broke (see _run)

    @property
    def worker_id(self) -> str:
        return self.ctx.worker_id

    def serve(self) -> int:
        """Register, claim runs until shutdown, then drain; returns the exit code."""
        bus.ensure_runs_group(self.ctx.client)
        start_metrics_server(metrics_port())
        self._register()
        self._fail_own_pending()
        self.reader.start()
        # This thread trains from here on (workers/priority.py says why).
        lower_this_thread(self.ctx.settings.training_nice)
        name_os_thread("esper-train")
        try:
            while not self.ctx.shutdown.is_set():
                if self._drain_requested():
                    self._hold_drained()
                else:
                    self._claim_once()
        finally:
            self.reader.stop()
            self._set_worker_state(WorkerState.draining)
            self.heartbeat.stop()
        log.info("worker %s stopped", self.worker_id)
        return self.exit_code

    def request_shutdown(self) -> None:
        """Signal handler: stop claiming and stop the current run cleanly."""
        self.ctx.shutdown.set()
        if self.session is not None:
            self.session.request_shutdown()

    def _command_handler(self) -> CommandHandler:
        session = self.session
        return session if session is not None else self.idle

    # -- registration --------------------------------------------------------
    def _register(self) -> None:
        info = describe(self.ctx.device)
        self.ctx.info.update(
            worker_id=self.worker_id,
            hostname=socket.gethostname(),
            device=self.ctx.device,
            device_name=info["device_name"],
            torch_version=torch.__version__,
            pid=os.getpid(),
            run_id=None,
            capabilities={
                "memory_bytes": info["memory_bytes"],
                "capability": info["capability"],
                "pid": os.getpid(),
                **served_capabilities(self.ctx.settings),
                # What one run may ask of this host (api_schemas/capacity.py).
                "cpu_count": os.cpu_count(),
                "gpu_count": torch.cuda.device_count(),
            },
        )
        self._set_worker_state(WorkerState.idle)
        self.heartbeat.start()
        log.info("worker %s registered on %s", self.worker_id, self.ctx.device)

    def _set_worker_state(self, state: WorkerState, run_id: str | None = None) -> None:
        info = self.ctx.info
        info.update(state=str(state), run_id=run_id)
        if state is not WorkerState.draining:
            self.heartbeat.beat()
        bus.publish_event(
            self.ctx.client,
            WorkerEvent(
                worker_id=self.worker_id,
                state=state,
                hostname=info["hostname"],
                device=self.ctx.device,
                device_name=info["device_name"],
                torch_version=info["torch_version"],
                run_id=run_id,
                capabilities=info["capabilities"],
            ),
        )

    # -- draining ------------------------------------------------------------
    def _drain_requested(self) -> bool:
        """Whether an operator drained this worker (POST .../drain sets the
        key). Read before each claim: one EXISTS per claim block."""
        try:
            return bool(self.ctx.client.exists(worker_drain_key(self.worker_id)))
        except redis.RedisError as exc:  # the claim fails too; it retries
            log.warning("could not read the drain request (%s)", exc)
            return False

    def _hold_drained(self) -> None:
        """Claim nothing; say `drained` once, stay alive (heartbeat, commands)
        so the operator can stop the process when it suits."""
        if self.ctx.info.get("state") != WorkerState.drained.value:
            log.info("worker %s drained: claiming no more runs", self.worker_id)
            self._set_worker_state(WorkerState.drained)
        self.ctx.shutdown.wait(self.ctx.settings.claim_block_ms / 1000)

    # -- claiming ------------------------------------------------------------
    def _claim_once(self) -> None:
        try:
            reply = self.ctx.client.xreadgroup(
                RUNS_GROUP,
                self.worker_id,
                {RUNS_STREAM: ">"},
                count=1,
                block=self.ctx.settings.claim_block_ms,
            )
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Not workers.retry: serve's loop claims again, and a shutdown
            # must cut the pause short.
            log.warning("claim failed (%s); retrying", exc)
            self.ctx.shutdown.wait(0.5)
            return
        except redis.ResponseError as exc:
            # The stream or group vanished (Redis restarted empty, or flushed):
            # recreate the group and carry on claiming.
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                raise
            log.warning("runs group lost (%s); recreating it", exc)
            bus.ensure_runs_group(self.ctx.client)
            return
        for _stream, entries in read_reply(reply, str):
            for entry_id, fields in entries:
                self._handle_assignment(entry_id, fields)

    def _handle_assignment(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            assignment = RunAssignment.model_validate_json(fields[DATA_FIELD])
        except (KeyError, ValidationError) as exc:
            log.error("dropping malformed assignment %s: %s", entry_id, exc)
            self.ctx.client.xack(RUNS_STREAM, RUNS_GROUP, entry_id)
            return
        if not can_serve(self.ctx.device, assignment.spec.device):
            self._requeue(entry_id, fields, assignment.run_id)
            return
        if self.ctx.shutdown.is_set():  # signal arrived during the read
            self._requeue(entry_id, fields, assignment.run_id)
            return
        if ended_by_gateway(self.ctx.client, assignment.run_id):
            # Halted or cancelled while queued: its row is terminal.
            log.info("skipping run %s: it ended before it started", assignment.run_id)
            self.ctx.client.xack(RUNS_STREAM, RUNS_GROUP, entry_id)
            return
        self._run(assignment, entry_id)

    def _requeue(self, entry_id: str, fields: dict[str, str], run_id: str) -> None:
        """Hand an assignment back to the group for a worker that can serve it."""
        pipe = self.ctx.client.pipeline(transaction=True)
        pipe.xadd(RUNS_STREAM, fields)  # type: ignore[arg-type]
        pipe.xack(RUNS_STREAM, RUNS_GROUP, entry_id)
        pipe.xdel(RUNS_STREAM, entry_id)
        pipe.execute()
        if run_id not in self.skipped:
            log.info("left run %s for another worker", run_id)
            self.skipped.add(run_id)
        # Without a pause two unsuitable workers would pass it back and forth.
        self.ctx.shutdown.wait(1.0)

    def _run(self, assignment: RunAssignment, entry_id: str) -> None:
        log.info("claimed run %s", assignment.run_id)
        self._set_worker_state(WorkerState.busy, assignment.run_id)
        self.session = RunSession(self.ctx, assignment, entry_id, self.reader)
        try:
            outcome = self.session.execute()
        finally:
            self.session = None
            release_frozen()
        log.info("run %s ended %s", assignment.run_id, outcome.state)
        if outcome.result.get("device_broken"):
            # A sticky CUDA error poisons this process's context: exit non-zero
            # so the supervisor restarts the worker on a fresh context.
            log.critical(
                "device %s is broken (%s); exiting", self.ctx.device, outcome.error
            )
            self.exit_code = 3
            self.ctx.shutdown.set()
        if not self.ctx.shutdown.is_set():
            drained = self._drain_requested()
            self._set_worker_state(WorkerState.drained if drained else WorkerState.idle)

    def _fail_own_pending(self) -> None:
        """A restart under the same id: runs this id held died with the old process."""
        try:
            pending: list[Any] = self.ctx.client.xpending_range(
                RUNS_STREAM,
                RUNS_GROUP,
                min="-",
                max="+",
                count=100,
                consumername=self.worker_id,
            )
        except redis.ResponseError as exc:
            # The stream vanished after serve() created the group (Redis
            # restarted empty, or flushed): a new group holds nothing pending.
            if not str(exc).startswith("NOGROUP"):
                raise
            log.warning("runs group lost (%s); recreating it", exc)
            bus.ensure_runs_group(self.ctx.client)
            return
        for item in pending:
            entry_id = item["message_id"]
            entries = range_reply(
                self.ctx.client.xrange(RUNS_STREAM, entry_id, entry_id), str
            )
            if entries:
                fields = bus.decode(entries[0][1])
                bus.publish_event(
                    self.ctx.client,
                    RunStateEvent(
                        run_id=fields.get("run_id", ""),
                        worker_id=self.worker_id,
                        # The attempt it held: a resume run is requeued, not
                        # refused as a stale attempt's event.
                        attempt=int(fields.get("attempt") or 1),
                        state=RunState.failed,
                        error="worker_lost",
                        at=bus.utcnow(),
                        result={"reason": "worker_restarted"},
                    ),
                )
            self.ctx.client.xack(RUNS_STREAM, RUNS_GROUP, entry_id)
