"""A store that does not answer: the gateway says 503 with its code (never a
500), and a worker's rollback that needs it is refused with the reason."""

import json
from pathlib import Path

import pytest

from tests.fixtures.gateway import running_gateway, sqlite_url
from tests.fixtures.services import free_port
from workers.artifacts.store import ArtifactStore
from workers.run_artifacts import fetch_or_refuse

# An S3 endpoint nobody listens on; one attempt, so the test is quick.
DEAD_OPTIONS = {
    "key": "k",
    "secret": "s",
    "endpoint_url": f"http://127.0.0.1:{free_port()}",
    "client_kwargs": {"region_name": "us-east-1"},
    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
}


def test_the_gateway_answers_503_when_the_store_is_down(
    redis_url: str, tmp_path: Path
) -> None:
    env = {
        "ESPER_ARTIFACT_URL": "s3://nowhere/artifacts",
        "ESPER_ARTIFACT_OPTIONS": json.dumps(DEAD_OPTIONS),
    }
    with (
        running_gateway(sqlite_url(tmp_path), redis_url, tmp_path, **env) as gateway,
        gateway.client() as client,
    ):
        run = client.post("/api/v1/runs", json={"task": "digits"}).json()
        for path in ("artifacts", "artifacts/model.json", "checkpoints"):
            response = client.get(f"/api/v1/runs/{run['id']}/{path}")
            if path == "checkpoints":  # no rows yet: the store is not asked
                assert response.status_code == 200 and response.json() == []
                continue
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "artifact_store_unavailable"


def test_a_rollback_that_cannot_reach_the_store_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore("s3://nowhere/artifacts", DEAD_OPTIONS)
    with pytest.raises(LookupError, match="could not be fetched"):
        fetch_or_refuse(store, "run", "ckpt-000000010", tmp_path)
