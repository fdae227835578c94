"""Esper on several hosts of one machine (load/hosts/netns.py's namespaces).

    data        10.231.0.1   PostgreSQL, Redis, the artifact store (moto's S3 server)
    gateway-N   10.231.0.1x  `esper gateway` (production settings, auth on)
    worker-N    ...          `python -m workers`, each with its own data dir
    client      last         the test's HTTP client (Host.call) and WebSocket followers

Every process runs in its host's namespace under the host's name
(`hostname`), so a worker registers `worker-2` as its hostname and the
default worker id starts with it. Hosts share nothing but the network: each
has its own loopback and its own `ESPER_DATA_DIR`, and reaches the database,
Redis and the store at the data host's address. PostgreSQL is a private
cluster (initdb in a folder of its own, run as the `postgres` user), not the
machine's server; where its binaries or that user are missing the gateway
runs on SQLite in its own data dir (one gateway only), and `database` says so.

The data host's services are in load/hosts/data_host.py, the gateway, worker
and client processes in load/hosts/app_hosts.py; this module puts them
together.
"""

import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from load.hosts.app_hosts import (
    ADMIN_TOKEN,
    FAST_DETECTION,
    GATEWAY_PORT,
    SECRET,
    HostHttp,
    base_env,
    follow_argv,
    gateway_argv,
    wait_ready,
    worker_argv,
)
from load.hosts.data_host import (
    BUCKET,
    POSTGRES_PORT,
    REDIS_PORT,
    S3_KEY,
    S3_PORT,
    S3_REGION,
    S3_SECRET,
    create_bucket,
    createdb_argv,
    init_postgres,
    postgres_argv,
    postgres_bindir,
    postgres_unavailable,
    redis_argv,
    s3_argv,
)
from load.hosts.netns import PREFIX, Host, Network
from load.hosts.netns import unavailable_reason as netns_unavailable

ROOT = Path(__file__).resolve().parents[2]


def unavailable_reason() -> str | None:
    """Why the cluster cannot be built here (for a skip), or None."""
    if reason := netns_unavailable():
        return f"cannot create network namespaces: {reason}"
    if shutil.which("redis-server") is None:
        return "no redis-server binary (the data host runs one)"
    try:
        import moto.server  # noqa: F401, PLC0415 - the data host's S3 server
    except ImportError:
        return "moto[server] is not installed (the data host's S3 server)"
    return None


class Cluster:
    """Builds the hosts and starts the services; `close()` ends all of it.

    `database`: "postgres" (a private cluster on the data host), "sqlite" (on
    the first gateway host) or "auto" (PostgreSQL where it can run)."""

    def __init__(
        self,
        tmp: Path,
        *,
        workers: int = 2,
        gateways: int = 1,
        database: str = "auto",
        worker_env: Mapping[str, str] | None = None,
        gateway_env: Mapping[str, str] | None = None,
    ) -> None:
        if database == "auto":
            database = (
                "sqlite" if postgres_unavailable() and gateways == 1 else "postgres"
            )
        if database == "postgres" and (reason := postgres_unavailable()):
            raise RuntimeError(f"PostgreSQL cannot run here: {reason}")
        self.database = database
        self.tmp = tmp
        self.logs_dir = tmp / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        names = ["data"]
        names += [f"gateway-{i}" for i in range(1, gateways + 1)]
        names += [f"worker-{i}" for i in range(1, workers + 1)]
        names += ["client"]
        self.net = Network(names)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pg_dir: Path | None = None
        self._http: dict[int, HostHttp] = {}
        self.extra_worker_env = dict(worker_env or {})
        self.extra_gateway_env = dict(gateway_env or {})
        try:
            self._start()
        except BaseException:
            print(self.logs())
            self.close()
            raise

    # --- hosts -----------------------------------------------------------
    @property
    def data(self) -> Host:
        return self.net["data"]

    @property
    def client(self) -> Host:
        return self.net["client"]

    @property
    def gateways(self) -> list[Host]:
        return [h for n, h in self.net.hosts.items() if n.startswith("gateway-")]

    @property
    def workers(self) -> list[Host]:
        return [h for n, h in self.net.hosts.items() if n.startswith("worker-")]

    def host_dir(self, host: Host) -> Path:
        folder = self.tmp / "hosts" / host.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # --- what the hosts reach --------------------------------------------
    @property
    def redis_url(self) -> str:
        return f"redis://{self.data.address}:{REDIS_PORT}/0"

    @property
    def database_url(self) -> str:
        if self.database == "sqlite":
            return f"sqlite+aiosqlite:///{self.host_dir(self.gateways[0]) / 'esper.db'}"
        return f"postgresql://postgres@{self.data.address}:{POSTGRES_PORT}/esper"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.data.address}:{S3_PORT}"

    def shared_env(self, host: Host) -> dict[str, str]:
        """Settings every gateway and worker has alike, plus the host's data dir."""
        return {
            **base_env(),
            "ESPER_REDIS_URL": self.redis_url,
            "ESPER_DATA_DIR": str(self.host_dir(host)),
            "ESPER_ARTIFACT_URL": f"s3://{BUCKET}/artifacts",
            "ESPER_ARTIFACT_OPTIONS": json.dumps(
                {
                    "endpoint_url": self.s3_endpoint,
                    "client_kwargs": {"region_name": S3_REGION},
                }
            ),
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "ESPER_LEYLINE_SECRET": SECRET,
            "ESPER_LOCAL_MODE": "0",
            **FAST_DETECTION,
        }

    # --- start -----------------------------------------------------------
    def _spawn(
        self,
        key: str,
        host: Host,
        argv: Sequence[str],
        env: Mapping[str, str],
        user: str | None = None,
    ) -> subprocess.Popen[bytes]:
        log = self.logs_dir / f"{key}.log"
        proc = host.spawn(argv, env, log, user=user, cwd=ROOT)
        self.procs[key] = proc
        return proc

    def _start(self) -> None:
        self._spawn("redis", self.data, redis_argv(self.data.address), base_env())
        self._spawn("s3", self.data, s3_argv(self.data.address), base_env())
        if self.database == "postgres":  # initdb while moto imports
            self._start_postgres()
        self.data.wait_port(self.data.address, REDIS_PORT)
        # Workers need only Redis and the store: they start (importing torch)
        # while the database and the gateway come up.
        for host in self.workers:
            self.start_worker(host)
        if self.database == "postgres":
            self.data.wait_port(self.data.address, POSTGRES_PORT)
            self.data.run(createdb_argv(self._pg_bin, self.data.address))
        self.data.wait_port(self.data.address, S3_PORT)
        self.data.call(create_bucket, self.s3_endpoint, BUCKET)
        for index, host in enumerate(self.gateways):
            self._start_gateway(host, migrate=index == 0)
            if index == 0:  # the others after migrations are applied
                self._wait_ready(host)
        for host in self.gateways[1:]:
            self._wait_ready(host)
        self.wait_workers(len(self.workers))

    @property
    def _pg_bin(self) -> Path:
        bindir = postgres_bindir()
        assert bindir is not None
        return bindir

    def _start_postgres(self) -> None:
        # The postgres user must reach the folder: not under a root-only tmp.
        self._pg_dir = Path(tempfile.mkdtemp(prefix=f"{self.net.tag}-pg-", dir="/tmp"))
        data = init_postgres(self.data, self._pg_bin, self._pg_dir)
        self._spawn(
            "postgres",
            self.data,
            postgres_argv(self._pg_bin, data, self.data.address, self._pg_dir),
            base_env(),
            user="postgres",
        )

    def _start_gateway(self, host: Host, migrate: bool) -> None:
        env = {
            **self.shared_env(host),
            "ESPER_DATABASE_URL": self.database_url,
            "ESPER_ADMIN_TOKEN": ADMIN_TOKEN,
            **self.extra_gateway_env,
        }
        argv = gateway_argv(
            host.address, migrate=migrate, sqlite=self.database == "sqlite"
        )
        self._spawn(host.name, host, argv, env)

    def _wait_ready(self, host: Host, timeout: float = 60.0) -> None:
        wait_ready(self.client, host, self.procs[host.name], timeout)

    def start_worker(self, host: Host, **extra: str) -> subprocess.Popen[bytes]:
        """`python -m workers` on `host` (again, after a kill); its id is the
        default one, which starts with the host's name."""
        env = {
            **self.shared_env(host),
            "ESPER_CPU_THREADS": "1",
            **self.extra_worker_env,
            **extra,
        }
        return self._spawn(host.name, host, worker_argv(), env)

    def kill_worker(self, host: Host, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[host.name]
        proc.send_signal(sig)
        proc.wait(15)

    def wait_workers(self, count: int, timeout: float = 90.0) -> list[dict[str, Any]]:
        """Until `count` workers are registered and not lost; the list."""
        http = self.http()
        deadline = time.monotonic() + timeout
        while True:
            live = [w for w in http.json("/api/v1/workers") if w["state"] != "lost"]
            if len(live) >= count:
                return live
            for host in self.workers:
                proc = self.procs[host.name]
                if proc.poll() is not None and proc.returncode not in (-9, 0):
                    raise RuntimeError(f"{host.name}'s worker exited {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(live)} of {count} workers registered")
            time.sleep(0.2)

    # --- the client ------------------------------------------------------
    def gateway_url(self, index: int = 0) -> str:
        return f"http://{self.gateways[index].address}:{GATEWAY_PORT}"

    def http(self, gateway: int = 0) -> HostHttp:
        """The client host's HTTP client on gateway `gateway`, as the admin."""
        if gateway not in self._http:
            self._http[gateway] = HostHttp(
                self.client,
                self.gateway_url(gateway),
                {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        return self._http[gateway]

    def follow(
        self,
        run_ids: Sequence[str],
        out: Path,
        gateway: int = 0,
        timeout_s: float = 300,
    ) -> subprocess.Popen[bytes]:
        """Start load/hosts/follow.py on the client host: it follows each run's
        WebSocket through `gateway` until the run ends, into `out`."""
        out.mkdir(parents=True, exist_ok=True)
        ws = self.gateway_url(gateway).replace("http://", "ws://")
        env = {**base_env(), "ESPER_TOKEN": ADMIN_TOKEN}
        argv = follow_argv(ws, out, timeout_s, run_ids)
        key = f"follow-{len([k for k in self.procs if k.startswith('follow')])}"
        return self._spawn(key, self.client, argv, env)

    def stored_cursors(self, run_id: str, gateway: int = 0) -> list[str]:
        """Every cursor of the run's telemetry history (REST pages)."""
        http = self.http(gateway)
        cursors: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 5000}
            if after:
                params["after"] = after
            page = http.json(f"/api/v1/runs/{run_id}/telemetry", params=params)
            cursors += [item["cursor"] for item in page["items"]]
            after = page.get("next_cursor")
            if not after:
                return cursors

    def hostnames(self) -> dict[str, str]:
        """Worker id -> the hostname it registered."""
        return {w["id"]: w["hostname"] for w in self.http().json("/api/v1/workers")}

    # --- end -------------------------------------------------------------
    def logs(self, tail: int = 4000) -> str:
        parts = []
        for log in sorted(self.logs_dir.glob("*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"--- {log.stem} ---\n{text[-tail:]}")
        return "\n".join(parts)

    def close(self) -> None:
        for http in self._http.values():
            with suppress(Exception):  # the host's thread may be gone
                http.close()
        self._http.clear()
        # Gateways, workers and followers first, while Redis and the database
        # still answer (a worker deregisters on SIGTERM), then the services.
        services = ("postgres", "redis", "s3")
        apps = [p for k, p in self.procs.items() if k not in services]
        for proc in apps:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 8
        for proc in apps:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for key in services:
            service = self.procs.get(key)
            if service is not None and service.poll() is None:
                # SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for clients)
                stop = signal.SIGINT if key == "postgres" else signal.SIGTERM
                service.send_signal(stop)
        self.net.close()  # what is still running in a namespace is ended there
        if self._pg_dir is not None:
            shutil.rmtree(self._pg_dir, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "ADMIN_TOKEN",
    "BUCKET",
    "FAST_DETECTION",
    "PREFIX",
    "S3_KEY",
    "S3_REGION",
    "S3_SECRET",
    "SECRET",
    "Cluster",
    "HostHttp",
    "base_env",
    "postgres_bindir",
    "postgres_unavailable",
    "unavailable_reason",
]
