"""Fuzzing in CI (issue 20, item 10): schemathesis against a live gateway.

`st run` drives a real uvicorn gateway over HTTP, auth on, with an admin key,
once on SQLite and once on PostgreSQL: the examples and coverage phases, then
fuzzing and the stateful phase (sequences of calls along the links schemathesis
infers: POST /runs -> GET /runs/{id} -> POST /runs/{id}/commands ...) in turns
until ESPER_FUZZ_SECONDS are spent. Strings may hold NUL. Any 5xx, an
undeclared status, content type or body that breaks its declared schema fails
the test, with schemathesis's report (each failure has a curl line to
reproduce it, and the run's seed). Rate limits are off on this gateway: a 429
is declared, but a run of 429s tests nothing.
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url

BOOTSTRAP_TOKEN = "esk_fuzz_bootstrap_admin_token"
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Per backend. The run stops at this budget, so the test's time does not grow
# with the API; raise it locally (ESPER_FUZZ_SECONDS=600) for a deeper search.
FUZZ_SECONDS = int(os.environ.get("ESPER_FUZZ_SECONDS", "30"))
pytestmark = pytest.mark.timeout(FUZZ_SECONDS + 120)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_db_url")
    return url


@pytest.fixture
def fuzz_gateway(
    database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[GatewayProcess]:
    with running_gateway(
        database_url,
        redis_url,
        tmp_path,
        ESPER_AUTH="on",
        ESPER_LOCAL_MODE="0",
        ESPER_ADMIN_TOKEN=BOOTSTRAP_TOKEN,
        ESPER_RATE_LIMIT="off",
        ESPER_RATE_LIMIT_WRITES="off",
    ) as gateway:
        yield gateway


def admin_key(gateway: GatewayProcess) -> dict[str, str]:
    """A key with the admin role, made as an operator would (POST /api/v1/keys)."""
    with gateway.client() as client:
        response = client.post(
            "/api/v1/keys",
            json={"name": "fuzz", "role": "admin"},
            headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
        )
    assert response.status_code == 201, response.text
    key: dict[str, str] = response.json()
    return key


def run_schemathesis(
    gateway: GatewayProcess, key: dict[str, str], out: Path
) -> tuple[dict[str, Any], str]:
    """`st run` over the gateway's /openapi.json; its JSON report and its output."""
    argv = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "run",
        f"{gateway.url}/openapi.json",
        f"--header=Authorization: Bearer {key['token']}",
        f"--checks={','.join(CHECKS)}",
        "--phases=examples,coverage,fuzzing,stateful",
        "--generation-allow-x00=true",
        "--generation-database=none",
        "--max-examples=25",
        f"--max-time={FUZZ_SECONDS}",
        "--request-timeout=10",
        "--workers=2",
        "--report=json",
        f"--report-json-path={out / 'report.json'}",
    ]
    if seed := os.environ.get("ESPER_FUZZ_SEED"):
        argv.append(f"--seed={seed}")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "ESPER_FUZZ_KEEP_KEY": key["id"],
    }
    done = subprocess.run(
        argv,
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 60,
    )
    output = done.stdout + done.stderr
    report_path = out / "report.json"
    assert report_path.exists(), output
    report: dict[str, Any] = json.loads(report_path.read_text())
    return report, output


def served(gateway: GatewayProcess) -> Counter[str]:
    """Requests the gateway answered, by status class, from its own /metrics."""
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            status = labels.split('status="', 1)[1].split('"', 1)[0]
            counts[status] += int(float(value))
    return counts


def summary(report: dict[str, Any], traffic: Counter[str], seconds: float) -> str:
    ops = report["operations"]
    by_class = ", ".join(f"{k} {v}" for k, v in sorted(traffic.items()))
    return (
        f"fuzz: {sum(traffic.values())} requests ({by_class}), "
        f"{report['test_cases']['generated']} test cases, "
        f"{ops['tested']}/{ops['total']} operations, seed {report['seed']}, "
        f"{seconds:.0f} s; failures {len(report['failures'])}, "
        f"errors {len(report['errors'])}"
    )


def test_the_fuzzer_finds_no_5xx_and_no_schema_violation(
    fuzz_gateway: GatewayProcess, tmp_path: Path
) -> None:
    key = admin_key(fuzz_gateway)
    started = time.monotonic()
    report, output = run_schemathesis(fuzz_gateway, key, tmp_path)
    traffic = served(fuzz_gateway)
    print(summary(report, traffic, time.monotonic() - started))
    assert report["failures"] == [] and report["errors"] == [], output
    assert report["operations"]["tested"] == report["operations"]["total"], output
    assert report["phases"]["stateful"]["status"] == "success", output
    assert traffic["5xx"] == 0, output
    # The run's key outlived it (fuzz_hooks.py spares it): later requests were
    # not all 401s.
    with fuzz_gateway.client() as client:
        bearer = {"Authorization": f"Bearer {key['token']}"}
        assert client.get("/api/v1/whoami", headers=bearer).status_code == 200
