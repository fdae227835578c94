"""The run page's artifacts panel in headless Chromium: a run's checkpoints
listed with download links, and a link's download equal to the bytes the API
serves (its sha256 is the ETag), with auth off (the browser's own download)
and with a token (fetched with the Authorization header, saved as a blob)."""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser.dashboard import (
    ADMIN_TOKEN,
    Dashboard,
    api_client,
    submit_run,
    wait_state,
)
from tests.fixtures.stack import LiveStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
Open = Callable[[str], Dashboard]
SHORT_RUN: dict[str, Any] = {
    "task": "digits",
    "epochs": 1,
    "device": "cpu",
    "checkpoint_every": 10,
    "morphogenesis": {"enabled": False},
}


def download_from_the_page(
    stack: LiveStack, dashboard: Open, token: str | None
) -> None:
    client = api_client(stack, token)
    run = submit_run(client, "artifacts", SHORT_RUN)
    wait_state(client, run["id"], {"completed"}, timeout=60)
    listed = client.get(f"/api/v1/runs/{run['id']}/artifacts").json()
    assert listed, "the run stored no artifacts"
    page = dashboard(stack.url)
    if token:
        page.open().sign_in(token)
        page.wait_connection("live")  # before leaving the page: no socket cut short
        page.errors.clear()  # the 401s that asked for the token
    page.open_run(run["id"])
    rows = page.page.locator('[data-testid="artifacts"] tr[data-artifact]')
    rows.first.wait_for()
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.artifact)")) == sorted(
        a["name"] for a in listed
    )
    wanted = listed[-1]
    link = page.page.locator(f'tr[data-artifact="{wanted["name"]}"] a[download]')
    assert "token" not in (link.get_attribute("href") or "")
    with page.page.expect_download() as info:
        link.click()
    saved = info.value.path()
    digest = hashlib.sha256(Path(saved).read_bytes()).hexdigest()
    served = client.get(f"/api/v1/runs/{run['id']}/artifacts/{wanted['name']}")
    assert digest == wanted["sha256"] == served.headers["etag"].strip('"')
    assert page.errors == []


def test_artifacts_are_listed_and_download_without_auth(
    stack: LiveStack, dashboard: Open
) -> None:
    download_from_the_page(stack, dashboard, None)


def test_a_signed_in_page_downloads_with_its_token(
    auth_stack: LiveStack, dashboard: Open
) -> None:
    download_from_the_page(auth_stack, dashboard, ADMIN_TOKEN)
