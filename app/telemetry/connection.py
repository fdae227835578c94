"""One WebSocket client of the hub: replay, then live frames from its queue.

Two tasks per connection: the pump (the only writer to the socket) and the
receiver (disconnects and `ping`s). A stalled client blocks only its own pump.
Once its queue overflows, the pump's next step is a 4408 close whose reason is
the cursor of the last frame whose send completed; the close frame queues
behind those frames, so the client reads exactly up to that cursor. The pump is
never cancelled mid-send, because whether a cancelled send reached the socket
depends on the server implementation. A client that never reads again is
dropped by uvicorn's keep-alive ping timeout; its queue is already released.
A third task watches the caller's key: once the key cache no longer holds it
(revoked here, or on another replica and reloaded, ESPER_KEY_RELOAD_S), the
socket closes 4401. That close may cut the pump mid-send: a revoked caller is
owed no exact cursor.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import WebSocket, WebSocketDisconnect

from api_schemas.telemetry import cursor_key
from app import metrics
from app.models import Run
from app.telemetry.frames import dump_frame, pong_frame
from app.telemetry.hub import Matcher, Subscriber
from app.telemetry.replay import Replayer

log = logging.getLogger("esper.ws")
# A run that had already ended when the client connected but whose stream shows
# no final state packet (e.g. trimmed away): after this much silence the state is
# taken from the database, so the client still gets an explicit end.
ENDED_GRACE_S = 3.0
CLOSED = (WebSocketDisconnect, RuntimeError, OSError)


@dataclass
class Connection:
    websocket: WebSocket
    replayer: Replayer
    stream: str  # metrics label: "runs" or "fleet"
    run_ended: bool = False
    key_id: str | None = None  # the caller's key, re-checked while open
    last: str = field(default="0-0")

    @property
    def hub(self):  # type: ignore[no-untyped-def]
        return self.websocket.app.state.hub

    async def serve(self, after: str | None, match: Matcher | None) -> None:
        sub: Subscriber | None = None
        metrics.WS_CLIENTS.labels(self.stream).inc()
        try:
            sub, upto = await self.hub.subscribe(
                self.replayer.key,
                stop_on_final=self.replayer.run_id is not None,
                match=match,
            )
            self.last = after or upto
            await self._run(sub, after, upto)
        except CLOSED:
            pass
        finally:
            metrics.WS_CLIENTS.labels(self.stream).dec()
            await self.hub.unsubscribe(self.replayer.key, sub)

    async def _run(self, sub: Subscriber, after: str | None, upto: str) -> None:
        pump = asyncio.create_task(self._pump(sub, after, upto))
        watch = asyncio.create_task(self._watch_key(self.key_id))
        tasks = {pump, watch, asyncio.create_task(self._receive(sub))}
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pump in done:
            pump.result()
        elif watch in done:
            with contextlib.suppress(*CLOSED):
                await self.websocket.close(code=4401, reason="key revoked")

    async def _watch_key(self, key_id: str | None) -> None:
        """Returns once the key is no longer live (never with auth off)."""
        if key_id is None:
            await asyncio.Event().wait()
            return
        app = self.websocket.app
        keys, every_s = app.state.keys, app.state.settings.key_reload_s
        while await keys.still_live(app.state.sessionmaker, key_id):
            await asyncio.sleep(every_s / 2)

    async def _pump(self, sub: Subscriber, after: str | None, upto: str) -> None:
        if after is not None:
            async for cursor, frame, final in self.replayer.frames(after, upto):
                if sub.overflowed.is_set():
                    return await self._close_slow()
                await self.websocket.send_text(frame)
                self.last = cursor
                if final:
                    return await self._finish()
        # A cursor ahead of this gateway's feed (another replica served it):
        # live frames up to it were already delivered.
        skip = after if after and cursor_key(after) > cursor_key(upto) else None
        await self._live(sub, skip)

    async def _live(self, sub: Subscriber, skip: str | None) -> None:
        frames = sub.frames
        while not sub.overflowed.is_set():
            if not frames:
                sub.wake.clear()
                if not await self._wait(sub):
                    return await self._finish(await self._ended_frame())
                continue
            sent, final, skip = await self._drain(sub, skip)
            metrics.PACKETS_OUT_TOTAL.inc(sent)
            if final:
                return await self._finish()
        await self._close_slow()

    async def _drain(
        self, sub: Subscriber, skip: str | None
    ) -> tuple[int, bool, str | None]:
        """Send what is queued; stops at the final frame or on overflow."""
        send, frames, sent = self.websocket.send_text, sub.frames, 0
        while frames and not sub.overflowed.is_set():
            cursor, frame, final = frames.popleft()
            if cursor is not None and skip is not None:
                if cursor_key(cursor) <= cursor_key(skip):
                    continue
                skip = None
            await send(frame)
            if cursor is not None:
                self.last = cursor
            sent += 1
            if final:
                return sent, True, skip
        return sent, False, skip

    async def _wait(self, sub: Subscriber) -> bool:
        """Wait for frames; False if an already-ended run stays silent."""
        if not self.run_ended:
            await sub.wake.wait()
            return True
        try:
            await asyncio.wait_for(sub.wake.wait(), ENDED_GRACE_S)
        except TimeoutError:
            return False
        return True

    async def _ended_frame(self) -> str:
        async with self.websocket.app.state.sessionmaker() as session:
            run = await session.get(Run, self.replayer.run_id)
        state = run.state if run else "failed"
        return dump_frame(
            {
                "cursor": self.last,
                "run_id": self.replayer.run_id,
                "ts": datetime.now(UTC).isoformat(),
                "kind": "state",
                "name": "run.state",
                "value": state,
                "step": None,
                "epoch": None,
                "level": "info",
                "attrs": {"source": "database"},
            }
        )

    async def _finish(self, frame: str | None = None) -> None:
        """After the final state packet: a normal close, never a dropped socket."""
        if frame is not None:
            await self.websocket.send_text(frame)
        with contextlib.suppress(*CLOSED):
            await self.websocket.close(code=1000, reason="run finished")

    async def _receive(self, sub: Subscriber) -> None:
        """Client pings are answered (through the pump) with a pong frame."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if "ping" in (message.get("text") or ""):
                sub.control(pong_frame(self.last))

    async def _close_slow(self) -> None:
        # Counted in esper_ws_slow_client_closes_total when the queue overflowed.
        log.info("closing slow client on %s at %s", self.replayer.key, self.last)
        with contextlib.suppress(*CLOSED):
            await self.websocket.close(code=4408, reason=self.last)
