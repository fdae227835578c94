"""The command reader on a real Redis: a run's stream is read as soon as the run
is watched, not when the blocking read that was already waiting runs out."""

import threading
import time

from api_schemas.bus import SignedCommand
from tests.integration.worker.busio import Client, send, signed
from workers.commands import CommandReader

BLOCK_MS = 10_000  # the reader's blocking read
DELIVERY_S = 2.0  # well inside the block, and inside a client's socket timeout


class Recorder:
    """The handler: every command passes the check and is recorded."""

    def __init__(self) -> None:
        self.delivered: list[SignedCommand] = []
        self.arrived = threading.Event()

    def check(self, command: SignedCommand) -> None:
        return None

    def deliver(self, command: SignedCommand) -> None:
        self.delivered.append(command)
        self.arrived.set()

    def reject(self, command_id: str, reason: str, message: str) -> None:
        raise AssertionError(f"rejected {command_id}: {reason}")

    def tick(self) -> None:
        return None


def test_a_newly_watched_run_is_read_before_the_block_ends(bus: Client) -> None:
    recorder = Recorder()
    reader = CommandReader(bus, lambda: recorder, block_ms=BLOCK_MS)
    reader.start()
    try:
        time.sleep(0.3)  # the reader is now blocked on the broadcast stream alone
        reader.watch_run("run-a")
        halt = signed("run-a", "emergency_halt")
        send(bus, halt)
        started = time.monotonic()
        assert recorder.arrived.wait(DELIVERY_S), "not read before the block ended"
        assert time.monotonic() - started < DELIVERY_S
        # the wake-up entries are not commands
        assert [c.id for c in recorder.delivered] == [halt.id]
    finally:
        reader.stop()
    assert not reader.is_alive()  # stop() ended the blocking read too
    assert not bus.exists(reader.wake_stream)
