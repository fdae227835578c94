"""`esper runs logs -f`: a run's live telemetry over its WebSocket.

With auth on, each (re)connection trades the token for a single-use ticket
(POST /api/v1/ws-tickets) rather than sending it in a header a proxy may log.
A dropped connection is reopened with `?after=<last cursor>`, so nothing is
missed or repeated (API.md, WebSocket); a 4408 close names that cursor in its
reason. In a terminal a rich progress bar shows epochs, loss and accuracy; seed
stage changes, warnings and state changes print as lines above it.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli.client.session import RUN_END_CODES, CliFailure, ExitCode, Session, ok

CLOSE_FAILURES = {
    4401: ExitCode.AUTH,
    4403: ExitCode.AUTH,
    4404: ExitCode.NOT_FOUND,
}
RECONNECT_FOR_S = 60.0  # give up after this long without a connection
LOSS = "tolaria.training.loss"
ACCURACY = ("tolaria.validation.accuracy", "tolaria.training.accuracy")
SEED_CHANGE = "kasmina.seed.stage_changed"


class Follower:
    """Reads one run's frames until its final state; reconnects on drops."""

    def __init__(self, session: Session, run_id: str, view: "View") -> None:
        self.session = session
        self.run_id = run_id
        self.view = view
        self.cursor: str | None = None
        self.final: str | None = None
        self.reconnects = 0

    def run(self) -> str | None:
        """The run's final state, once a frame announced it."""
        from websockets.exceptions import (  # noqa: PLC0415
            ConnectionClosedError,
            InvalidHandshake,
        )

        down_since: float | None = None
        while True:
            try:
                with self._socket() as socket:
                    down_since = None
                    for message in socket:
                        self._frame(json.loads(message))
                if self.final in RUN_END_CODES:
                    return self.final
                # A clean close before the final state: a gateway going away
                # (1001, 1012). Reconnect and resume like after a drop.
            except ConnectionClosedError as closed:
                self._closed(closed.rcvd.code if closed.rcvd else None, closed)
            except (OSError, httpx.TransportError, InvalidHandshake):
                pass  # the gateway is restarting, or unreachable for now
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since > RECONNECT_FOR_S:
                raise CliFailure("lost the gateway's WebSocket", ExitCode.FAILED)
            self.reconnects += 1
            self.session.errors.print(
                f"reconnecting (resume after {self.cursor})", highlight=False
            )
            time.sleep(0.5)

    def _closed(self, code: int | None, closed: Any) -> None:
        if code in CLOSE_FAILURES:
            raise CliFailure(f"WebSocket closed {code}", CLOSE_FAILURES[code])
        if code == 4408 and closed.rcvd.reason:
            self.cursor = closed.rcvd.reason  # the last frame it delivered

    @contextmanager
    def _socket(self) -> Iterator[Any]:
        from websockets.sync.client import connect  # noqa: PLC0415

        query: dict[str, str] = {}
        if self.cursor is not None:
            query["after"] = self.cursor
        if self.session.target.token:
            query["ticket"] = self._ticket()
        base = self.session.target.url.replace("http", "ws", 1)
        url = f"{base}/ws/runs/{self.run_id}"
        with connect(f"{url}?{urlencode(query)}" if query else url) as socket:
            yield socket

    def _ticket(self) -> str:
        from esper_client.api.telemetry import create_ws_ticket  # noqa: PLC0415

        ticket: str = ok(create_ws_ticket.sync_detailed(client=self.session.sdk)).ticket
        return ticket

    def _frame(self, frame: dict[str, Any]) -> None:
        if "cursor" not in frame or frame.get("type") == "pong":
            return
        self.cursor = frame["cursor"]
        if frame.get("kind") == "state":
            self.final = str(frame.get("value"))
        self.view.frame(frame)


class View:
    """How frames are shown: JSON lines, plain lines, or a progress bar."""

    def __init__(self, console: Console, epochs: int, json_lines: bool) -> None:
        self.console = console
        self.json_lines = json_lines
        self.epochs = epochs
        self.epoch = -1
        self.loss: float | None = None
        self.accuracy: float | None = None
        self.progress: Progress | None = None
        self.task: Any = None

    def __enter__(self) -> "View":
        if self.console.is_terminal and not self.json_lines:
            self.progress = Progress(
                TextColumn("[bold]epoch"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[figures]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task("run", total=self.epochs, figures="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def frame(self, frame: dict[str, Any]) -> None:
        if self.json_lines:
            self.console.file.write(json.dumps(frame) + "\n")
            self.console.file.flush()
            return
        self._metrics(frame)
        line = describe_line(frame)
        if line is not None:
            self._print(line)

    def _metrics(self, frame: dict[str, Any]) -> None:
        name, value = frame.get("name"), frame.get("value")
        if frame.get("kind") != "metric" or not isinstance(value, int | float):
            return
        if name == LOSS:
            self.loss = float(value)
        elif name in ACCURACY:
            self.accuracy = float(value)
        epoch = frame.get("epoch")
        figures = f"loss {_fmt(self.loss)} accuracy {_fmt(self.accuracy)}"
        if self.progress is not None:
            done = (epoch or 0) if isinstance(epoch, int) else 0
            self.progress.update(self.task, completed=done, figures=figures)
        elif isinstance(epoch, int) and epoch != self.epoch:
            if self.epoch >= 0:
                self._print(f"epoch {self.epoch} {figures}")
            self.epoch = epoch

    def _print(self, line: str) -> None:
        target = self.progress.console if self.progress else self.console
        target.print(line, highlight=False, markup=False)


def describe_line(frame: dict[str, Any]) -> str | None:
    """The one line a frame deserves, or None (metrics go to the bar)."""
    kind, name, value = frame.get("kind"), frame.get("name"), frame.get("value")
    attrs = frame.get("attrs") or {}
    where = f"step {frame.get('step')}" if frame.get("step") is not None else ""
    if kind == "state":
        return f"state {value} {where}".rstrip()
    if name == SEED_CHANGE:
        seed = attrs.get("seed_id") or attrs.get("slot")
        reason = attrs.get("reason") or ""
        return f"seed {seed} -> {value} {where} {reason}".rstrip()
    if frame.get("level") in ("warning", "critical"):
        return f"{frame['level']} {name} {where} {_attrs(attrs)}".rstrip()
    return None


def _attrs(attrs: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in attrs.items() if not isinstance(v, dict))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
