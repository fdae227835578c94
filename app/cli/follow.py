"""Following a run in the terminal: a rich progress bar, or plain lines headless."""

import threading
import time
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def describe(run: dict[str, Any]) -> str:
    m = run.get("metrics") or {}
    acc = m.get("val_accuracy", m.get("accuracy"))
    return (
        f"{run['state']:<9} epoch {run.get('epoch', 0)} step {run.get('step', 0)}"
        f" loss {_fmt(m.get('loss'))} accuracy {_fmt(acc)}"
    )


def poll(client: httpx.Client, run_id: str) -> dict[str, Any] | None:
    try:
        response = client.get(f"/api/v1/runs/{run_id}")
    except httpx.HTTPError:
        return None  # the gateway may be restarting; try again next tick
    return dict(response.json()) if response.status_code == 200 else None


def follow_run(
    client: httpx.Client,
    run_id: str,
    epochs: int,
    console: Console,
    stop: threading.Event,
    interval: float = 0.5,
) -> dict[str, Any] | None:
    """Poll GET /api/v1/runs/{id} until the run is terminal or `stop` is set."""
    if console.is_terminal:
        return _follow_bar(client, run_id, epochs, console, stop, interval)
    return _follow_plain(client, run_id, console, stop, interval)


def _follow_bar(
    client: httpx.Client,
    run_id: str,
    epochs: int,
    console: Console,
    stop: threading.Event,
    interval: float,
) -> dict[str, Any] | None:
    columns = (
        TextColumn("[bold]demo run"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    run = None
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("queued", total=epochs)
        while not stop.is_set():
            run = poll(client, run_id) or run
            if run:
                done = epochs if run["state"] == "completed" else run.get("epoch", 0)
                bar.update(task, completed=min(done, epochs), description=describe(run))
                if run["state"] in TERMINAL_RUN_STATE_VALUES:
                    break
            stop.wait(interval)
    return run


def _follow_plain(
    client: httpx.Client,
    run_id: str,
    console: Console,
    stop: threading.Event,
    interval: float,
) -> dict[str, Any] | None:
    run, last_line, last_print = None, "", 0.0
    while not stop.is_set():
        run = poll(client, run_id) or run
        if run:
            line = describe(run)
            changed = line.split(" step")[0] != last_line.split(" step")[0]
            if changed or time.monotonic() - last_print > 2.0:
                console.print(f"demo run {run_id[:8]}: {line}", highlight=False)
                last_line, last_print = line, time.monotonic()
            if run["state"] in TERMINAL_RUN_STATE_VALUES:
                break
        stop.wait(interval)
    return run
