"""soak: a long stretch of training with clients connecting and leaving; does
the gateway or the worker grow, and does latency drift (BENCHMARKS.md)?

Runs train back to back (each cancelled after `--run-seconds`, so the worker
also builds and tears down runs; one that ended on its own is replaced); a
thread keeps opening WebSocket clients on the current run and on the fleet,
each reading for 1-4 s before it leaves.
Every `--sample-s` the gateway's and the worker's RSS are read and a `pause`
and a `resume` are sent with `?wait` (their round trip is the latency drift).
Growth compares the median of the last quarter of samples with the median of
the first quarter after the warm-up (the first fifth of the run).

Bounded by `--minutes` (default 10; BENCHMARKS.md asks for hours: pass
`--minutes 180`); `--quick` is one minute.
"""

import argparse
import random
import statistics
import threading
import time
from collections import Counter
from typing import Any

import httpx
import psutil
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from load.live_stack import LocalStack
from load.scenarios.command_latency import wait_training
from load.stats import print_table, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--run-seconds", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=5.0)


class ClientChurn(threading.Thread):
    """WebSocket clients that come and go, on the current run and the fleet.

    How each session ended is tallied: `left` (the client's own choice, the
    plan), a close by the server with its code (1000 when the run ended under
    the client, 4408 when the client fell too far behind), or `error:` with the
    exception's type (a refused connection, a failed handshake).
    """

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.run_id = port, ""
        self.sessions = self.packets = 0
        self.endings: Counter[str] = Counter()
        self.stopping = threading.Event()

    @property
    def errors(self) -> int:
        return sum(n for how, n in self.endings.items() if how.startswith("error"))

    def run(self) -> None:
        while not self.stopping.is_set():
            path = (
                f"/ws/runs/{self.run_id}"
                if self.run_id and random.random() < 0.7
                else "/ws/fleet"
            )
            try:
                self._session(path, random.uniform(1, 4))
                self.endings["left"] += 1
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else "none"
                self.endings[f"closed by the server ({code})"] += 1
            except (OSError, WebSocketException) as exc:
                self.endings[f"error: {type(exc).__name__}"] += 1
                time.sleep(0.5)

    def _session(self, path: str, seconds: float) -> None:
        end = time.monotonic() + seconds
        with connect(
            f"ws://127.0.0.1:{self.port}{path}",
            compression=None,
            max_size=None,
            open_timeout=5,
        ) as ws:
            self.sessions += 1
            while time.monotonic() < end and not self.stopping.is_set():
                try:
                    ws.recv(timeout=0.5)
                    self.packets += 1
                except TimeoutError:
                    pass


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def command_ms(client: httpx.Client, run_id: str) -> float:
    """Round trip of a pause and a resume, each POSTed with ?wait (ms, mean)."""
    started = time.perf_counter()
    for kind in ("pause", "resume"):
        client.post(f"/api/v1/runs/{run_id}/commands?wait=5", json={"type": kind})
    return (time.perf_counter() - started) * 500


def next_run(
    stack: LocalStack, client: httpx.Client, old: str | None, endings: list[str]
) -> str:
    """End `old` (a run may also have ended on its own: a long digits run can
    trip the emergency ladder's loss-explosion halt) and start the next one."""
    if old:
        client.post(f"/api/v1/runs/{old}/cancel")  # 409 if it already ended
        ended = stack.wait_state(client, old, TERMINAL_RUN_STATE_VALUES)
        endings.append(ended["state"])
    run_id = stack.submit(client, epochs=100000)
    stack.wait_state(client, run_id, {"running"})
    wait_training(client, run_id)
    return run_id


def soak(
    stack: LocalStack, client: httpx.Client, args: argparse.Namespace, minutes: float
) -> list[dict[str, float]]:
    churn, endings = ClientChurn(stack.port), []
    run_id = next_run(stack, client, None, endings)
    churn.run_id = run_id
    churn.start()
    worker, gateway = stack.worker_pid(client), stack.gateway_pid()
    started = time.monotonic()
    run_started, samples = started, []
    while (elapsed := time.monotonic() - started) < minutes * 60:
        if time.monotonic() - run_started > args.run_seconds:
            run_id = churn.run_id = next_run(stack, client, run_id, endings)
            run_started = time.monotonic()
        samples.append(
            {
                "t_s": elapsed,
                "gateway_mb": rss_mb(gateway),
                "worker_mb": rss_mb(worker),
                "command_ms": command_ms(client, run_id),
                "ws_sessions": churn.sessions,
            }
        )
        time.sleep(args.sample_s)
    churn.stopping.set()
    churn.join(10)
    print(
        f"runs ended: {dict(Counter(endings))}; websocket sessions "
        f"{churn.sessions}, packets {churn.packets}, client errors {churn.errors}; "
        f"sessions ended: {dict(churn.endings)}"
    )
    return samples


def growth(samples: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    """(after warm-up median, last-quarter median, growth %)."""
    steady = samples[len(samples) // 5 :]
    quarter = max(1, len(steady) // 4)
    first = statistics.median(s[key] for s in steady[:quarter])
    last = statistics.median(s[key] for s in steady[-quarter:])
    return first, last, (last - first) / first * 100


def run(args: argparse.Namespace) -> dict[str, Any]:
    minutes = 1.0 if args.quick else args.minutes
    with (
        LocalStack(workers=1) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as client,
    ):
        samples = soak(stack, client, args, minutes)
    step = max(1, len(samples) // 8)
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    print_table(
        f"soak: {minutes:g} min, runs of {args.run_seconds:g} s, a sample "
        f"every {args.sample_s:g} s",
        shown,
        ["t_s", "gateway_mb", "worker_mb", "command_ms", "ws_sessions"],
    )
    rows, figures = [], {}
    for key, name in (
        ("gateway_mb", "gateway"),
        ("worker_mb", "worker"),
        ("command_ms", "command"),
    ):
        first, last, pct = growth(samples, key)
        rows.append(
            {"what": key, "after warm-up": first, "last quarter": last, "growth %": pct}
        )
        figures[f"{name}_{'rss' if key.endswith('mb') else 'latency'}_growth_pct"] = pct
    print_table(
        "growth: median of the last quarter against the first quarter "
        "after the warm-up (goal: RSS <= 5%)",
        rows,
        ["what", "after warm-up", "last quarter", "growth %"],
    )
    return summary("soak", "cpu", len(samples), figures)
