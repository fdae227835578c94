"""Command reader: a thread apart from the training loop, verifying every command."""

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Protocol

import redis
from pydantic import ValidationError

from api_schemas.bus import (
    BROADCAST_STREAM,
    DATA_FIELD,
    SignedCommand,
    command_stream,
    read_reply,
    wake_stream,
)
from api_schemas.enums import RejectionReason
from api_schemas.signing import SignatureError, verify
from workers.nonce import NonceLedger
from workers.priority import name_os_thread

log = logging.getLogger("esper.worker.commands")
WAKE_TTL_S = 24 * 3600  # a dead worker's wake-up stream does not stay for ever


def check_command(
    command: SignedCommand,
    keys: Mapping[str, str],
    ledger: NonceLedger,
    *,
    run_id: str | None,
    max_age_s: float,
    max_skew_s: float,
    now: float | None = None,
) -> None:
    """Raise SignatureError(reason) unless the command may be applied.

    The nonce is recorded only after the signature checks out, so forged
    commands cannot fill the ledger or burn a real command's nonce.
    """
    verify(command, keys, now=now, max_age_s=max_age_s, max_skew_s=max_skew_s)
    if command.run_id is not None and command.run_id != run_id:
        raise SignatureError(RejectionReason.wrong_run, "command is for another run")
    if not ledger.remember(command.nonce):
        raise SignatureError(RejectionReason.nonce_replayed, "nonce was already used")


def last_entry_id(client: redis.Redis, stream: str) -> str:
    newest = client.xrevrange(stream, count=1)
    return str(newest[0][0]) if newest else "0-0"


class CommandHandler(Protocol):
    """Who the reader hands commands to: the current run, or the idle worker."""

    def check(self, command: SignedCommand) -> None: ...
    def deliver(self, command: SignedCommand) -> None: ...
    def reject(self, command_id: str, reason: str, message: str) -> None: ...
    def tick(self) -> None: ...


class CommandReader(threading.Thread):
    """One per worker, for its whole life: XREADs `esper:cmd:broadcast` (from
    the moment the worker starts) and, while a run is held, that run's stream
    (from its beginning, so commands queued before the claim count).

    A blocking XREAD only reads the streams it was started with, so
    `watch_run` writes to the reader's own wake-up stream: the read returns
    and the next one includes the run's stream at once, instead of when the
    block ran out.
    """

    def __init__(
        self,
        client: redis.Redis,
        handler: Callable[[], CommandHandler],
        block_ms: int = 200,
    ) -> None:
        super().__init__(name="commands", daemon=True)
        self._client = client
        self._handler = handler
        self._block_ms = block_ms
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.wake_stream = wake_stream(uuid.uuid4().hex)
        self._positions = {
            BROADCAST_STREAM: last_entry_id(client, BROADCAST_STREAM),
            self.wake_stream: "0-0",
        }

    def watch_run(self, run_id: str) -> None:
        with self._lock:
            self._positions[command_stream(run_id)] = "0-0"
        self._wake_up("watch")

    def unwatch_run(self, run_id: str) -> None:
        with self._lock:
            self._positions.pop(command_stream(run_id), None)

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if threading.current_thread() is not self:
            self._wake_up("stop")
            self.join(timeout)

    def _wake_up(self, why: str) -> None:
        """End the blocking read in progress (the next one sees the change)."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(self.wake_stream, {"why": why}, maxlen=1)
                pipe.expire(self.wake_stream, WAKE_TTL_S)
                pipe.execute()
        except redis.RedisError as exc:  # the read ends when its block runs out
            log.warning("could not wake the command reader: %s", exc)

    def run(self) -> None:
        name_os_thread("esper-commands")
        # Not workers.retry: the loop ends on stop(), and the handler ticks
        # after every read, failed or not (a retry inside would hold it back).
        while not self._stopping.is_set():
            try:
                self._read_once()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("command stream read failed (%s); retrying", exc)
                time.sleep(0.2)
            self._handler().tick()
        with contextlib.suppress(redis.RedisError):
            self._client.delete(self.wake_stream)

    def _read_once(self) -> None:
        with self._lock:
            positions = dict(self._positions)
        replies = self._client.xread(
            positions,  # type: ignore[arg-type]
            block=self._block_ms,
            count=100,
        )
        for stream, entries in read_reply(replies, str):
            for entry_id, fields in entries:
                with self._lock:
                    if stream not in self._positions:
                        break  # the run ended while we read: leave the rest
                    self._positions[stream] = entry_id
                if stream != self.wake_stream:
                    self._handle(fields)

    def _handle(self, fields: dict[str, str]) -> None:
        handler = self._handler()
        raw = fields.get(DATA_FIELD, "")
        try:
            command = SignedCommand.model_validate_json(raw)
        except ValidationError:
            command_id = _id_of(raw)
            log.warning("malformed command %s", command_id or raw[:80])
            if command_id:
                handler.reject(
                    command_id, RejectionReason.malformed, "not a SignedCommand"
                )
            return
        try:
            handler.check(command)
        except SignatureError as exc:
            log.warning("rejected command %s: %s", command.id, exc.reason)
            handler.reject(command.id, exc.reason, str(exc))
            return
        handler.deliver(command)


def _id_of(raw: str) -> str | None:
    try:
        value = json.loads(raw).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
