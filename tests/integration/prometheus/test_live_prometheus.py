"""A real Prometheus scrapes a live gateway and a worker metrics endpoint; every
PromQL expression Esper ships must evaluate, and read series that exist."""

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url
from tests.fixtures.redis_dbs import RedisDb, fresh_redis_db
from tests.fixtures.services import free_port
from tests.integration.prometheus.promql import (
    ROOT,
    alert_exprs,
    panel_exprs,
    series_names,
)

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus missing: apt-get install -y prometheus (the Makefile does)",
)


@pytest.fixture(scope="module")
def prometheus_redis_url(redis_server_url: str) -> Iterator[str]:
    yield from fresh_redis_db(redis_server_url, RedisDb.PROMETHEUS)


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, prometheus_redis_url: str
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("gateway")
    with running_gateway(sqlite_url(tmp), prometheus_redis_url, tmp) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def scraped(
    tmp_path_factory: pytest.TempPathFactory, gateway: GatewayProcess
) -> Iterator[str]:
    """Gateway + worker endpoint + Prometheus; yields Prometheus's URL once both
    targets were scraped at least three times."""
    tmp: Path = tmp_path_factory.mktemp("prom")
    worker_port, prom_port = free_port(), free_port()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.prometheus.worker_metrics",
            str(worker_port),
        ],
        cwd=ROOT,
    )
    prom = _start_prometheus(tmp, gateway, worker_port, prom_port)
    url = f"http://127.0.0.1:{prom_port}"
    try:
        _wait_for_scrapes(url)
        yield url
    finally:
        for proc in (prom, worker):
            proc.terminate()
            proc.wait(10)


def _start_prometheus(
    tmp: Path, gateway: GatewayProcess, worker_port: int, port: int
) -> subprocess.Popen[bytes]:
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: esper-gateway\n    static_configs: [{{targets: "
        f"['127.0.0.1:{gateway.port}']}}]\n"
        f"  - job_name: esper-worker\n    static_configs: [{{targets: "
        f"['127.0.0.1:{worker_port}']}}]\n"
    )
    return subprocess.Popen(
        [
            PROMETHEUS or "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "prometheus.log").open("wb"),
    )


def _wait_for_scrapes(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = _query(url, 'count_over_time(up{job=~"esper-.*"}[1m]) >= 3')
            if len(result) == 2 and len(_query(url, "up == 1")) == 2:
                return
        except (httpx.HTTPError, AssertionError, ValueError):  # still starting
            pass
        time.sleep(0.5)
    raise AssertionError("Prometheus did not scrape both targets")


def _query(url: str, expr: str) -> list[dict[str, object]]:
    body = httpx.get(url + "/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def _exists(url: str, name: str) -> bool:
    body = httpx.get(
        url + "/api/v1/series", params={"match[]": name}, timeout=10
    ).json()
    return body["status"] == "success" and bool(body["data"])


def test_every_alert_expression_evaluates_on_existing_series(scraped: str) -> None:
    for alert, expr in alert_exprs().items():
        _query(scraped, expr)
        missing = [n for n in series_names(expr) if not _exists(scraped, n)]
        assert not missing, f"{alert} reads series that do not exist: {missing}"


def test_every_dashboard_panel_evaluates_on_existing_series(scraped: str) -> None:
    panels = panel_exprs()
    assert len(panels) >= 20
    for title, exprs in panels.items():
        for expr in exprs:
            _query(scraped, expr)
            missing = [n for n in series_names(expr) if not _exists(scraped, n)]
            assert not missing, f"panel {title!r}: no series {missing}"


def test_worker_packets_reach_prometheus(scraped: str) -> None:
    assert _query(scraped, 'esper_kasmina_seeds{stage="TRAINING"} == 1')
    assert _query(scraped, "esper_tolaria_training_loss == 0.7")
