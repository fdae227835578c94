"""Child processes of `esper up`: start, watch, restart, and stop them cleanly."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If `esper up` itself is killed -9, the kernel sends SIGTERM to children,
    # so no orphaned gateway or worker outlives it.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(
            _PR_SET_PDEATHSIG, signal.SIGTERM
        )


@dataclass
class Child:
    """One managed subprocess; its output goes to `log_path`."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    log_path: Path
    restart: bool = False
    tier: int = 0  # stopped highest tier first: workers, gateway, then Redis
    proc: "subprocess.Popen[bytes] | None" = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Own session: a Ctrl-C in the terminal reaches only `esper up`,
            # which then stops children in order (workers before Redis).
            self.proc = subprocess.Popen(
                self.argv,
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive() and self.proc is not None:
            self.proc.send_signal(signum)

    def wait(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        self.signal(signal.SIGTERM)
        return self.reap(timeout)

    def reap(self, timeout: float) -> int | None:
        """Wait for an exit already asked for; SIGKILL after `timeout`."""
        if self.proc is None:
            return None
        if not self.wait(timeout):
            self.proc.kill()
            self.proc.wait(5)
        return self.proc.returncode

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Supervisor:
    """Restarts children marked `restart` that exit while the stack is up."""

    children: list[Child] = field(default_factory=list)
    min_uptime_s: float = 2.0

    def add(self, child: Child) -> Child:
        self.children.append(child)
        child.start()
        return child

    def check(self) -> list[Child]:
        """Restart dead restartable children; returns those restarted."""
        restarted = []
        for child in self.children:
            if child.alive() or not child.restart:
                continue
            # A child that crashes at once would spin; give it a breather.
            if time.monotonic() - child.started_at < self.min_uptime_s:
                continue
            child.restarts += 1
            child.start()
            restarted.append(child)
        return restarted

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop tier by tier (workers, gateway, Redis); a tier stops in parallel,
        so workers can still report their runs' ends to a live Redis."""
        for child in self.children:
            child.restart = False
        for tier in sorted({c.tier for c in self.children}, reverse=True):
            group = [c for c in self.children if c.tier == tier]
            for child in group:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for child in group:
                child.reap(max(0.1, deadline - time.monotonic()))


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
