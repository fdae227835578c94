"""Hosts on one machine: Linux network namespaces joined by veth pairs to a
bridge, built with iproute2 (`ip netns`, `ip link`).

Every host is a namespace with its own loopback, one interface `eth0` with an
address in 10.231.0.0/24, and (through `unshare --uts`) its own hostname for
the processes it starts. The bridge lives in a namespace of its own (the
"switch"), so the machine's root namespace gets no interface, address or route:
the only addresses in play are the ones this module gives its namespaces, and
127.0.0.0/8 inside each. Two networks built at once (two test sessions, a test
and a benchmark) do not see each other: each has its own switch.

Namespaces are named `esper-h-<pid>-<n>-<host>`; `Network.close()` ends every
process in them (SIGTERM, then SIGKILL) and deletes them. It runs on failure
and on KeyboardInterrupt (a `with` block, or the finaliser of the fixture that
made it); a crashed earlier run's leftovers (their pid no longer alive) are
removed by `remove_stale()` before a new network is built.

Code that must talk from a host, such as a test's HTTP client, runs on the
host's own thread (`Host.call`): the thread enters the namespace with
setns(2), which moves that thread only, so every socket it opens is the host's.
"""

import ctypes
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

PREFIX = "esper-h-"
SUBNET = "10.231.0"  # /24, inside the namespaces only
NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
_STALE = re.compile(rf"^{re.escape(PREFIX)}(\d+)-")
_counter = itertools.count(1)
_T = TypeVar("_T")


class NamespaceError(RuntimeError):
    """An `ip` command failed; says which and why."""


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (for a skip), or None when they can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root: network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN"
    for tool, package in (
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("setpriv", "util-linux"),
    ):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed ({package})"
    probe = f"{PREFIX}{os.getpid()}-probe"
    done = subprocess.run(
        ["ip", "netns", "add", probe], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"`ip netns add` failed: {done.stderr.strip() or done.returncode}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NamespaceError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def namespaces() -> list[str]:
    """Every network namespace `ip netns` knows, by name."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line]


def pids_in(ns: str) -> list[int]:
    """The processes whose network namespace is `ns`."""
    try:
        return [int(p) for p in ip("netns", "pids", ns).split()]
    except NamespaceError:
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_processes(names: Sequence[str], grace_s: float = 5.0) -> None:
    """SIGTERM every process in the namespaces `names`, then SIGKILL what is
    left after `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        pids = [pid for ns in names for pid in pids_in(ns)]
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [p for p in pids if _alive(p) and not _zombie(p)]
        if not pids:
            return


def _zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status.rsplit(")", 1)[-1].split()[0] == "Z"


def delete_namespaces(names: Sequence[str], grace_s: float = 5.0) -> None:
    """End the processes in `names`, then delete the namespaces."""
    end_processes(names, grace_s)
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def remove_stale() -> list[str]:
    """Delete the esper-h-* namespaces (and /tmp/esper-h-* folders) left by a
    process that is gone (a crashed or killed earlier run); their names."""
    removed = []
    for ns in namespaces():
        match = _STALE.match(ns)
        if match and not _alive(int(match.group(1))):
            removed.append(ns)
    delete_namespaces(removed, grace_s=1.0)
    for folder in Path("/tmp").glob(f"{PREFIX}*"):
        match = _STALE.match(folder.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
    return removed


def _enter(ns: str) -> None:
    """Move the calling thread (only) into network namespace `ns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NamespaceError(f"setns({ns}): {os.strerror(err)}")
    finally:
        os.close(fd)


@dataclass
class Host:
    """One host: a namespace, its address on the bridge, its hostname."""

    name: str  # the role and hostname: data, gateway-1, worker-2, client
    ns: str
    address: str
    _thread: ThreadPoolExecutor | None = field(default=None, repr=False)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def argv(self, argv: Sequence[str], user: str | None = None) -> list[str]:
        """`argv` as this host runs it: in its namespace, under its hostname
        (a UTS namespace of its own), as `user` if given. Every step execs the
        next, so the process's pid is the one a Popen of this gets. Start it
        from a thread that lives as long as the process should (the main one)."""
        # setpriv execs (runuser would stay as the parent, holding the pid).
        # --pdeathsig: the process is killed when the thread that started it
        # ends (the caller's process dies, even by SIGKILL), so nothing
        # outlives a crashed harness (but for one killed in the instant before
        # setpriv ran: remove_stale() ends that one).
        setpriv = ["setpriv", "--pdeathsig", "KILL"]
        if user:
            setpriv += [f"--reuid={user}", f"--regid={user}", "--init-groups"]
        return [
            "ip",
            "netns",
            "exec",
            self.ns,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            self.name,
            *setpriv,
            "--",
            *argv,
        ]

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` on this host, its output appended to `log_path`."""
        log: IO[bytes]
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                self.argv(argv, user),
                env=dict(env),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def run(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` on this host to the end; raises with its output on failure."""
        user = kw.pop("user", None)
        done = subprocess.run(
            self.argv(argv, user),
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            check=False,
            **kw,
        )
        if done.returncode != 0:
            raise NamespaceError(
                f"{' '.join(argv)} on {self.name} exited {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """`fn(*args, **kwargs)` on this host's thread: its sockets are this
        host's. Calls run one at a time, in order."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix=f"host-{self.name}",
                initializer=_enter,
                initargs=(self.ns,),
            )
        return self._thread.submit(fn, *args, **kwargs).result()

    def wait_port(self, address: str, port: int, timeout: float = 30.0) -> None:
        """Until a TCP connection from this host to address:port succeeds."""
        self.call(_wait_port, address, port, timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None


def _wait_port(address: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{address}:{port} did not answer: {exc}") from exc
            time.sleep(0.05)


class Network:
    """Hosts on one bridge. Use as a context manager (or call `close()`)."""

    def __init__(self, names: Sequence[str], subnet: str = SUBNET) -> None:
        reason = unavailable_reason()
        if reason:
            raise NamespaceError(reason)
        remove_stale()
        self.tag = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.switch = f"{self.tag}-switch"
        self.hosts: dict[str, Host] = {}
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._build(names, subnet)
        except BaseException:
            self.close()
            raise

    def _build(self, names: Sequence[str], subnet: str) -> None:
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for index, name in enumerate(names, start=1):
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name) or name in self.hosts:
                raise ValueError(f"bad or repeated host name {name!r}")
            host = Host(name, f"{self.tag}-{name}", f"{subnet}.{index}")
            ip("netns", "add", host.ns)
            self.hosts[name] = host
            # A veth pair made in the switch: its end `p<n>` joins the bridge,
            # the other moves into the host as eth0 (names are per namespace).
            port = f"p{index}"
            ip(
                "-n",
                self.switch,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                f"{port}h",
            )
            ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
            ip("-n", self.switch, "link", "set", f"{port}h", "netns", host.ns)
            ip("-n", host.ns, "link", "set", f"{port}h", "name", "eth0")
            ip("-n", host.ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip("-n", host.ns, "link", "set", "eth0", "up")
            ip("-n", host.ns, "link", "set", "lo", "up")

    def close(self, grace_s: float = 5.0) -> None:
        """End every process on every host (SIGTERM, SIGKILL after `grace_s`)
        and delete the namespaces; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for host in self.hosts.values():
            host.close()
        names = [host.ns for host in self.hosts.values()]
        delete_namespaces(
            [*names, self.switch] if self.switch in namespaces() else names, grace_s
        )
        for host in self.hosts.values():
            for proc in host.procs:  # reaped (they were ended above)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]


@contextmanager
def network(names: Sequence[str]) -> Iterator[Network]:
    net = Network(names)
    try:
        yield net
    finally:
        net.close()
