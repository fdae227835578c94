"""The researcher's dashboard (issue 23), its architecture view: a grown run's
lineage and parameters, and a seed planted while the page is open. Shares the
stack of test_research.py (the package-scoped `live` fixture in conftest.py)."""

import time
from typing import Any

import httpx
import pytest

from tests.e2e.browser.dashboard import Dashboard, api_client
from tests.e2e.browser.research_stack import DOC_SHOTS, Open
from tests.fixtures.stack import LiveStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def _lineage(client: httpx.Client, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's seeds once both have ended (the gateway writes lineage as its
    persister catches up with the stream)."""
    deadline = time.monotonic() + 20
    while True:
        seeds = client.get(f"/api/v1/runs/{run_id}/seeds").json()
        found = {s["seed_id"]: s for s in seeds}
        if len(found) == 2 and all(s["outcome"] != "live" for s in seeds):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


def _seed_tip(page: Dashboard, seed_id: str) -> str:
    """Hover the seed's row in the swimlane (near the right end of its bar) and
    return the tooltip's text once it is about that seed."""
    lane = page.testid("swimlane")
    lane.scroll_into_view_if_needed()
    point = lane.evaluate("(el, id) => el.swimlane.rowPoint(id)", seed_id)
    assert point, f"no swimlane row for {seed_id}"
    page.page.mouse.move(point["x"], point["y"])
    tip = page.testid("swim-tip")
    page.page.wait_for_selector(f'[data-testid="swim-tip"][data-seed-id="{seed_id}"]')
    text: str = tip.inner_text()
    return text


def _distinct_params(page: Dashboard) -> list[float]:
    values: list[float] = page.testid("chart-params").evaluate(
        "el => [...new Set(el.chart.primary().buckets.flatMap(b => [b.min, b.max]))]"
    )
    return sorted(values)


def test_architecture_lineage_and_parameters_of_a_grown_run(
    live: tuple[LiveStack, dict[str, dict[str, Any]]], dashboard: Open
) -> None:
    """Growth made visible (issue 23, item 5): the host's blocks and slots with
    the fossilised seed merged into block1 and the culled one under block0,
    each seed's lineage on hover and in the detail panel, and the parameter
    count stepping up."""
    stack, runs = live
    run_id = runs["grown"]["id"]
    client = api_client(stack)
    lineage = _lineage(client, run_id)
    assert lineage["seed-2"]["outcome"] == "fossilised", lineage
    assert lineage["seed-1"]["outcome"] == "culled", lineage
    page = dashboard(stack.url).open()
    page.testid("runs-search").fill("grown")
    page.page.locator(f'tr[data-run-id="{run_id}"] a[href^="#/runs/"]').click()
    page.page.wait_for_selector('[data-testid="run-head"] h1')
    page.testid("architecture").evaluate("el => { el.dataset.mark = 'same page'; }")
    page.testid("architecture").locator("a", has_text="Link").click()
    page.page.wait_for_selector("#crumbs >> text=architecture")  # routed
    # The link only scrolls: the page (and its socket) is not built again.
    assert page.testid("architecture").get_attribute("data-mark") == "same page"

    arch = page.testid("architecture")
    fossil = arch.locator('[data-block="block1"] [data-testid="arch-fossil"]')
    fossil.wait_for()
    slots = arch.locator('[data-testid="arch-slot"]')
    assert [slots.nth(i).get_attribute("data-slot") for i in range(2)] == [
        "block0",
        "block1",
    ]
    assert slots.count() == 2
    assert arch.locator('[data-block="block0"] .arch-layer').all_inner_texts() == [
        "Linear(64→64)",
        "ReLU",
    ]
    grown = lineage["seed-2"]
    assert fossil.get_attribute("data-seed-id") == "seed-2"
    text = fossil.inner_text()
    assert "low_rank" in text and f"{grown['params']:,} params" in text, text
    assert slots.nth(1).get_attribute("data-state") == "fossilised"
    culled = arch.locator('[data-slot="block0"] [data-testid="arch-ended"]')
    assert culled.inner_text() == "culled low_rank (seed-1)"
    total = int(arch.get_attribute("data-params") or 0)
    host = total - grown["params"]
    assert host > 0
    assert page.testid("arch-total").inner_text() == f"{total:,}"

    tip = _seed_tip(page, "seed-2")
    assert "G0 ✓" in tip and "G2 ✓" in tip and "G4 ✓" in tip, tip
    assert "probationary @" in tip and "fossilized @" in tip, tip
    tip = _seed_tip(page, "seed-1")
    assert "culled at step" in tip and "operator seed_disable" in tip, tip

    page.page.mouse.click(*_point(page, "seed-1"))
    detail = page.testid("seed-detail")
    detail.wait_for()
    assert detail.get_attribute("data-seed-id") == "seed-1"
    assert page.testid("seed-end-reason").inner_text() == (
        "Culled: operator seed_disable"
    )
    stages = detail.locator('[data-testid="seed-history"] tbody tr')
    assert stages.first.get_attribute("data-stage") == "GERMINATED"
    assert detail.locator('[data-testid="seed-gates"] tr[data-gate="G0"]').count() == 1

    # The seeds table and the architecture view open a seed's lineage too.
    page.testid("seeds").locator('tr[data-seed-id="seed-2"] td').first.click()
    page.page.wait_for_selector('[data-testid="seed-detail"][data-seed-id="seed-2"]')
    culled.click()
    page.page.wait_for_selector('[data-testid="seed-detail"][data-seed-id="seed-1"]')
    assert "culled" in detail.locator(".panel-head .pill").inner_text()
    fossil.click()
    page.page.wait_for_selector('[data-testid="seed-detail"][data-seed-id="seed-2"]')
    gates = detail.locator('[data-testid="seed-gates"] tbody tr')
    assert [gates.nth(i).get_attribute("data-gate") for i in range(gates.count())] == [
        g["gate"] for g in grown["gates"]
    ]
    assert page.testid("seed-outcome").inner_text() == "fossilised"

    page.page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-params]')"
        "?.chart.primary().buckets.length > 0"
    )
    assert _distinct_params(page) == [host, total], _distinct_params(page)
    _shoot_architecture(page)
    assert page.errors == []


def _point(page: Dashboard, seed_id: str) -> tuple[float, float]:
    point = page.testid("swimlane").evaluate(
        "(el, id) => el.swimlane.rowPoint(id)", seed_id
    )
    return point["x"], point["y"]


def _shoot_architecture(page: Dashboard) -> None:
    """docs/screenshots/architecture.png: from the architecture panel down to
    the seeds panel with its lineage open."""
    page.page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top
    top = page.testid("architecture").bounding_box()
    bottom = page.testid("seed-detail").bounding_box()
    clip = {
        "x": 0,
        "y": top["y"] - 8,
        "width": page.page.viewport_size["width"],
        "height": bottom["y"] + bottom["height"] - top["y"] + 16,
    }
    page.page.screenshot(
        path=str(DOC_SHOTS / "architecture.png"), full_page=True, clip=clip
    )


def test_architecture_view_follows_a_live_seed(
    live: tuple[LiveStack, dict[str, dict[str, Any]]], dashboard: Open
) -> None:
    """A seed planted while the page is open appears in its slot with its
    blueprint, stage, alpha and parameters, and the parameter count rises, from
    the socket alone. The run is paused meanwhile, so the seed stays put."""
    stack, runs = live
    run_id = runs["long"]["id"]
    client = api_client(stack)
    page = dashboard(stack.url).open(f"#/runs/{run_id}/architecture")
    page.page.wait_for_selector('[data-testid="arch-slot"][data-slot="block0"]')
    slot = page.testid("architecture").locator('[data-slot="block0"]')
    assert slot.get_attribute("data-state") == "empty"

    def send(body: dict[str, Any]) -> dict[str, Any]:
        reply = client.post(
            f"/api/v1/runs/{run_id}/commands", params={"wait": 10}, json=body
        )
        assert reply.status_code == 200 and reply.json()["state"] == "applied", (
            reply.text
        )
        result: dict[str, Any] = reply.json()["result"]
        return result

    send({"type": "pause"})
    try:
        planted = send(
            {"type": "seed_enable", "slot": "block0", "blueprint": "residual_mlp"}
        )
        card = slot.locator(
            f'[data-testid="arch-seed"][data-seed-id="{planted["seed_id"]}"]'
        )
        card.wait_for()
        assert card.get_attribute("data-blueprint") == "residual_mlp"
        assert card.get_attribute("data-stage") == "GERMINATED"
        assert card.get_attribute("data-alpha") == "0"
        page.page.wait_for_function(
            "el => Number(el.dataset.params) > 0", arg=card.element_handle()
        )
        params = int(card.get_attribute("data-params") or 0)
        assert f"{params:,} params" in card.inner_text()
        assert slot.get_attribute("data-state") == "live"
        page.page.wait_for_function(
            "() => new Set(document.querySelector('[data-testid=chart-params]')"
            ".chart.primary().buckets.map(b => b.last)).size > 1"
        )
        low, high = _distinct_params(page)[0], _distinct_params(page)[-1]
        assert high - low == params
    finally:
        send({"type": "resume"})
    assert page.errors == []
