"""Command reader: a thread apart from the training loop, verifying every command.

It reads the run's own stream from the beginning (commands queued before the
claim count) and the broadcast stream from the moment the run starts.
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping

import redis
from pydantic import ValidationError

from api_schemas.bus import BROADCAST_STREAM, DATA_FIELD, SignedCommand, command_stream
from api_schemas.signing import SignatureError, verify
from workers.nonce import NonceLedger

log = logging.getLogger("esper.worker.commands")

Reject = Callable[[str, str, str], None]  # (command_id, reason, message)
Deliver = Callable[[SignedCommand], None]


def check_command(command: SignedCommand, keys: Mapping[str, str],
                  ledger: NonceLedger, *, run_id: str | None,
                  max_age_s: float, max_skew_s: float,
                  now: float | None = None) -> None:
    """Raise SignatureError(reason) unless the command may be applied.

    The nonce is recorded only after the signature checks out, so forged
    commands cannot fill the ledger or burn a real command's nonce.
    """
    verify(command, keys, now=now, max_age_s=max_age_s, max_skew_s=max_skew_s)
    if command.run_id is not None and command.run_id != run_id:
        raise SignatureError("wrong_run", "command is for another run")
    if not ledger.remember(command.nonce):
        raise SignatureError("nonce_replayed", "nonce was already used")


def last_entry_id(client: "redis.Redis[str]", stream: str) -> str:
    newest = client.xrevrange(stream, count=1)
    return str(newest[0][0]) if newest else "0-0"


class CommandReader(threading.Thread):
    """XREADs the run's and the broadcast command streams until stopped."""

    def __init__(self, client: "redis.Redis[str]", run_id: str, *,
                 check: Callable[[SignedCommand], None], deliver: Deliver,
                 reject: Reject, tick: Callable[[], None],
                 block_ms: int = 200) -> None:
        super().__init__(name=f"commands-{run_id[:8]}", daemon=True)
        self.run_id = run_id
        self._client = client
        self._check = check
        self._deliver = deliver
        self._reject = reject
        self._tick = tick
        self._block_ms = block_ms
        self._stopping = threading.Event()
        self._positions = {command_stream(run_id): "0-0",
                           BROADCAST_STREAM: last_entry_id(client, BROADCAST_STREAM)}

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._read_once()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("command stream read failed (%s); retrying", exc)
                time.sleep(0.2)
            self._tick()

    def _read_once(self) -> None:
        replies = self._client.xread(self._positions,  # type: ignore[arg-type]
                                     block=self._block_ms, count=100)
        for stream, entries in replies or []:
            for entry_id, fields in entries:
                self._positions[stream] = entry_id
                self._handle(fields)

    def _handle(self, fields: dict[str, str]) -> None:
        raw = fields.get(DATA_FIELD, "")
        try:
            command = SignedCommand.model_validate_json(raw)
        except ValidationError:
            command_id = _id_of(raw)
            log.warning("malformed command %s", command_id or raw[:80])
            if command_id:
                self._reject(command_id, "malformed", "not a SignedCommand")
            return
        try:
            self._check(command)
        except SignatureError as exc:
            log.warning("rejected command %s: %s", command.id, exc.reason)
            self._reject(command.id, exc.reason, str(exc))
            return
        self._deliver(command)


def _id_of(raw: str) -> str | None:
    try:
        value = json.loads(raw).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
