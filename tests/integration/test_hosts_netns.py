"""load/hosts/netns.py, the several-hosts harness's network: hosts reach each
other at their addresses and nothing else, each has its own loopback and
hostname, and nothing is left behind, after a close or after a crash."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from load.hosts.netns import (
    PREFIX,
    Network,
    namespaces,
    pids_in,
    remove_stale,
    unavailable_reason,
)

SERVE = (  # answers each connection with the address it came from
    "import socket, sys; s = socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind((sys.argv[1], 7000)); s.listen()\n"
    "while True:\n"
    "    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()\n"
)
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    c = socket.create_connection((sys.argv[1], 7000), timeout=2)\n"
    "    print(c.recv(100).decode())\n"
    "except OSError as exc:\n"
    "    print(type(exc).__name__)\n"
)


@pytest.fixture
def net() -> Iterator[Network]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"cannot create network namespaces here: {reason}")
    network = Network(["alpha", "beta"])
    try:
        yield network
    finally:
        network.close()


def _serve(net: Network, host: str, address: str, tmp: Path) -> None:
    net[host].spawn([sys.executable, "-c", SERVE, address], os.environ, tmp / "s.log")
    net[host].wait_port(address, 7000)


def _connect(net: Network, host: str, address: str) -> str:
    return net[host].run([sys.executable, "-c", CONNECT, address]).stdout.strip()


def test_hosts_reach_each_other_at_their_addresses(
    net: Network, tmp_path: Path
) -> None:
    alpha, beta = net["alpha"], net["beta"]
    assert (alpha.address, beta.address) == ("10.231.0.1", "10.231.0.2")
    _serve(net, "alpha", alpha.address, tmp_path)
    # The server sees the connection come from beta's own address.
    assert _connect(net, "beta", alpha.address) == beta.address


def test_each_host_has_its_own_loopback_and_hostname(
    net: Network, tmp_path: Path
) -> None:
    _serve(net, "alpha", "127.0.0.1", tmp_path)
    assert _connect(net, "beta", "127.0.0.1") == "ConnectionRefusedError"
    assert _connect(net, "alpha", "127.0.0.1") == "127.0.0.1"
    assert net["beta"].run(["hostname"]).stdout.strip() == "beta"


def test_close_ends_every_process_and_deletes_the_namespaces(tmp_path: Path) -> None:
    if reason := unavailable_reason():
        pytest.skip(f"cannot create network namespaces here: {reason}")
    net = Network(["alpha"])
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    proc = net["alpha"].spawn(
        [sys.executable, "-c", f"{stubborn}; print('up', flush=True); time.sleep(60)"],
        os.environ,
        tmp_path / "stubborn.log",
    )
    deadline = time.monotonic() + 10
    while "up" not in (tmp_path / "stubborn.log").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    net.close(grace_s=0.5)  # SIGTERM is ignored: SIGKILL after the grace
    assert proc.wait(1) == -signal.SIGKILL
    assert not [ns for ns in namespaces() if ns.startswith(net.tag)]


def test_a_crashed_harness_leaves_no_process_and_its_namespaces_go_next_time(
    tmp_path: Path,
) -> None:
    if reason := unavailable_reason():
        pytest.skip(f"cannot create network namespaces here: {reason}")
    # The harness's child prints once it runs (its --pdeathsig is set by then).
    child = "import time; print('up', flush=True); time.sleep(60)"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from load.hosts.netns import Network\n"
        "net = Network(['alpha'])\n"
        f"net['alpha'].spawn([sys.executable, '-c', {child!r}], os.environ,"
        " Path(sys.argv[1]))\n"
        "print(net['alpha'].ns, flush=True)\n"
        "time.sleep(60)\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "sleep.log")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert harness.stdout is not None
    ns = harness.stdout.readline().strip()
    assert ns.startswith(f"{PREFIX}{harness.pid}-")
    log = tmp_path / "sleep.log"
    deadline = time.monotonic() + 10
    while not (log.exists() and "up" in log.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert pids_in(ns)
    harness.kill()  # no finaliser runs
    harness.wait(5)
    deadline = time.monotonic() + 10
    while pids_in(ns):  # --pdeathsig: its process went with it
        assert time.monotonic() < deadline, pids_in(ns)
        time.sleep(0.05)
    assert ns in namespaces()  # the namespaces stay until the next harness
    removed = remove_stale()
    assert ns in removed
    assert not [n for n in namespaces() if n.startswith(f"{PREFIX}{harness.pid}-")]
