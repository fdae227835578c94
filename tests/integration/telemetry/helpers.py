"""A synthetic worker (XADDs exactly as workers/telemetry.py does) and a
WebSocket client that records every frame and the close it ends with."""

import asyncio
import base64
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api_schemas.bus import telemetry_stream

NAMES = (
    "tolaria.training.loss",
    "tolaria.training.accuracy",
    "tolaria.step.latency_ms",
    "kasmina.seed.alpha",
)


def packet(step: int, *, name: str | None = None, pad: int = 0) -> dict[str, Any]:
    return {
        "kind": "metric",
        "name": name or NAMES[step % len(NAMES)],
        "value": float(step % 97) / 10,
        "step": step,
        "epoch": step // 100,
        "level": "info",
        "attrs": {"pad": "x" * pad} if pad else {},
    }


async def produce(
    redis: Redis,
    run_id: str,
    steps: range,
    *,
    pad: int = 0,
    maxlen: int = 100_000,
    batch: int = 500,
    pause_s: float = 0.0,
) -> list[str]:
    """Pipelined XADDs of metric packets (a pause between batches paces a
    producer that clients in this test process must keep up with)."""
    cursors: list[str] = []
    for start in range(steps.start, steps.stop, batch):
        if pause_s and cursors:
            await asyncio.sleep(pause_s)
        pipe = redis.pipeline(transaction=False)
        for step in range(start, min(start + batch, steps.stop)):
            pipe.xadd(
                telemetry_stream(run_id),
                {"data": _data(run_id, packet(step, pad=pad))},
                maxlen=maxlen,
                approximate=True,
            )
        cursors += [i.decode() for i in await pipe.execute()]
    return cursors


async def finish(redis: Redis, run_id: str, state: str = "completed") -> str:
    """The worker's final `run.state` packet."""
    data = _data(
        run_id,
        {
            "kind": "state",
            "name": "run.state",
            "value": state,
            "step": None,
            "epoch": None,
            "level": "info",
            "attrs": {},
        },
    )
    entry_id = await redis.xadd(telemetry_stream(run_id), {"data": data})
    assert isinstance(entry_id, bytes)  # a bytes client (no decode_responses)
    return entry_id.decode()


def _data(run_id: str, body: dict[str, Any]) -> str:
    # json.dumps defaults (", " and ": "), as the worker's publisher writes.
    return json.dumps({**body, "run_id": run_id, "ts": datetime.now(UTC).isoformat()})


@dataclass
class Received:
    frames: list[dict[str, Any]] = field(default_factory=list)
    code: int | None = None
    reason: str = ""

    @property
    def cursors(self) -> list[str]:
        return [f["cursor"] for f in self.frames]

    @property
    def steps(self) -> list[int]:
        return [f["step"] for f in self.frames if f["kind"] == "metric"]


async def receive_all(
    ws_url: str, *, timeout: float = 30.0, stop_after: int | None = None, **options: Any
) -> Received:
    """Frames until the server closes (or `stop_after` frames, then disconnect)."""
    got = Received()
    # No permessage-deflate: per-client compression would undo serialise-once
    # (and uvicorn 0.54's close handshake with it stalls for close_timeout).
    options.setdefault("compression", None)
    async with connect(ws_url, **options) as ws:
        try:
            while stop_after is None or len(got.frames) < stop_after:
                got.frames.append(
                    json.loads(await asyncio.wait_for(ws.recv(), timeout))
                )
        except ConnectionClosed as exc:
            got.code = exc.rcvd.code if exc.rcvd else None
            got.reason = exc.rcvd.reason if exc.rcvd else ""
    return got


async def metric_value(base_url: str, name: str) -> float:
    """One unlabelled sample from the gateway's /metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(base_url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


async def eventually(check: Any, timeout: float = 15.0) -> None:
    """Poll an async predicate until true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class StalledClient:
    """A raw WebSocket client that does not read until told to: unlike client
    libraries, nothing drains the socket in the background, so the server's
    buffers really fill. Frames are parsed by hand (server frames are unmasked)."""

    def __init__(self, port: int, path: str) -> None:
        self.port, self.path = port, path
        self.reader: asyncio.StreamReader | None = None

    async def connect(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        self.reader, writer = await asyncio.open_connection(sock=sock, limit=16_384)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13"
                "\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        self._writer = writer
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    async def read_all(self, timeout: float = 20.0) -> Received:
        """Every frame until the server's close frame."""
        got = Received()
        while True:
            opcode, payload = await asyncio.wait_for(self._frame(), timeout)
            if opcode == 8:
                got.code = int.from_bytes(payload[:2], "big") if payload else None
                got.reason = payload[2:].decode()
                self._writer.close()
                return got
            if opcode == 1:
                got.frames.append(json.loads(payload))

    async def _frame(self) -> tuple[int, bytes]:
        assert self.reader is not None
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size >= 126:
            width = 2 if size == 126 else 8
            size = int.from_bytes(await self.reader.readexactly(width), "big")
        return first & 0x0F, await self.reader.readexactly(size)
