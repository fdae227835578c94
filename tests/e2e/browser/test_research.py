"""The researcher's dashboard (issue 23) in headless Chromium against one live
stack per module: charts that show only real gaps, the runs list, compare,
zoom, smoothing, export, and the run page's spec, artifacts and attempts. Each
test acts through the page as a user would."""

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser.conftest import ROOT, SCREENSHOTS, start_stack
from tests.e2e.browser.dashboard import (
    LONG_RUN,
    Dashboard,
    api_client,
    submit_run,
    wait_state,
)
from tests.fixtures.stack import LiveStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
Open = Callable[[str], Dashboard]
# The docs' screenshots are rewritten only when asked (ESPER_DOC_SCREENSHOTS=1),
# so a test run leaves the tree clean; otherwise they go with the test artifacts.
DOC_SHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("ESPER_DOC_SCREENSHOTS") == "1"
    else SCREENSHOTS
)
DOC_SHOTS.mkdir(parents=True, exist_ok=True)
# Short runs that finish in seconds, differing in two hyperparameters.
SHORT = {"task": "digits", "epochs": 3, "device": "cpu"}
SHORT_RUNS = {
    "cmp-lr-small": {**SHORT, "learning_rate": 0.01, "labels": {"sweep": "lr"}},
    "cmp-lr-large": {**SHORT, "learning_rate": 0.05, "labels": {"sweep": "lr"}},
    "spiral-probe": {"task": "spirals", "epochs": 2, "device": "cpu"},
}
# A run that grows: once it has trained a little, the operator pauses it, plants
# a seed in block0 and culls it, then plants one in block1; with gates any seed
# passes (as in tests/integration/seeds/test_seed_lineage_e2e.py) that one
# fossilises two or three epoch ends later (an epoch is 45 steps; 12 leave
# room for a growth as late as step 400 on a fast machine).
EASY_GATES = {
    "min_training_steps": 10,
    "g2_window": 4,
    "probe_every": 2,
    "g2_tolerance": 100.0,
    "g2_max_harm": 1000.0,
    "g3_max_spike": 100.0,
    "g4_min_gain": -10.0,
    "g4_max_step_overhead": 1000.0,
}
GROWN_RUN = {
    "task": "digits",
    "epochs": 12,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False, "gates": EASY_GATES},
}
GROWTH_COMMANDS = [
    {"type": "pause"},
    {"type": "seed_enable", "slot": "block0", "blueprint": "low_rank"},
    {"type": "seed_disable", "seed_id": "seed-1"},
    {"type": "seed_enable", "slot": "block1", "blueprint": "low_rank"},
    {"type": "resume"},
]


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, module_redis_url: str
) -> Iterator[tuple[LiveStack, dict[str, dict[str, Any]]]]:
    """One stack for the module: three short runs (they finish first on the one
    worker), one that grows, then a long one that keeps training. Stopped
    however the setup ends: a stack left running would claim the next
    module's runs from the same Redis database."""
    stack = start_stack(tmp_path_factory.mktemp("research"), module_redis_url)
    try:
        client = api_client(stack)
        runs = {n: submit_run(client, n, spec) for n, spec in SHORT_RUNS.items()}
        runs["grown"] = submit_run(client, "grown", GROWN_RUN)
        held = client.post(
            f"/api/v1/runs/{runs['grown']['id']}/commands", json={"type": "pause"}
        )
        assert held.status_code == 202, held.text
        runs["long"] = submit_run(client, "long-accuracy", LONG_RUN)
        for name in SHORT_RUNS:
            wait_state(client, runs[name]["id"], {"completed"}, timeout=90)
        _grow(client, runs["grown"]["id"], held.json()["id"])
        wait_state(client, runs["grown"]["id"], {"completed"}, timeout=90)
        yield stack, runs
    finally:
        stack.stop()


def _grow(client: httpx.Client, run_id: str, held: str) -> None:
    """The growth commands once the run has trained a little: `held` is a
    pause sent while it was queued (so it holds at its first step); a resume
    and a second pause let it train for a moment's worth of steps, so the
    parameter chart shows the growth as a step, not at its start."""
    deadline = time.monotonic() + 90
    while client.get(f"/api/v1/commands/{held}").json()["state"] != "applied":
        assert time.monotonic() < deadline, "the queued pause was never applied"
        time.sleep(0.1)
    for body in [{"type": "resume"}, *GROWTH_COMMANDS]:
        sent = client.post(
            f"/api/v1/runs/{run_id}/commands", params={"wait": 10}, json=body
        )
        assert sent.status_code == 200 and sent.json()["state"] == "applied", sent.text
        if body["type"] == "resume" and body is not GROWTH_COMMANDS[-1]:
            time.sleep(0.1)  # some steps before the growth (50-100 here)


def _step(client: httpx.Client, run_id: str) -> int:
    step: int = client.get(f"/api/v1/runs/{run_id}").json()["step"]
    return step


def _wait_step(client: httpx.Client, run_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while _step(client, run_id) < at_least:
        assert time.monotonic() < deadline, "the long run stopped training"
        time.sleep(0.3)


def test_sparse_metric_shows_no_phantom_gaps(
    live: tuple[LiveStack, dict[str, dict[str, Any]]], dashboard: Open
) -> None:
    """Training accuracy is measured every 10th step: history buckets wider
    than a step and live points 10 apart are not gaps (the chart used to say
    "No data for steps 10711-10719, ...")."""
    stack, runs = live
    run = runs["long"]
    client = api_client(stack)
    _wait_step(client, run["id"], 1500)  # history buckets span several steps
    page = dashboard(stack.url).open()
    page.page.locator(f'[data-testid="runs"] tr[data-run-id="{run["id"]}"] a').click()
    page.page.wait_for_selector('[data-testid="run-head"] h1')
    start = page.wait_chart_step(1, name="chart-accuracy")
    page.wait_chart_step(start + 200, name="chart-accuracy")  # live points joined
    chart = page.chart("chart-accuracy")
    note = page.testid("chart-accuracy").locator(".holes")
    assert chart["holes"] == 0, note.inner_text()
    assert note.is_hidden()
    assert page.chart("chart-loss")["holes"] == 0


def _rows(page: Dashboard) -> list[str]:
    ids: list[str] = page.page.eval_on_selector_all(
        '[data-testid="runs"] tbody tr[data-run-id]',
        "trs => trs.map(t => t.dataset.runId)",
    )
    return ids


def _wait_rows(page: Dashboard, expected: list[str]) -> None:
    deadline = time.monotonic() + 15
    while _rows(page) != expected:
        assert time.monotonic() < deadline, (_rows(page), expected)
        page.page.wait_for_timeout(100)


def test_runs_list_search_filter_sort_columns_and_paging(
    live: tuple[LiveStack, dict[str, dict[str, Any]]], dashboard: Open
) -> None:
    stack, runs = live
    small, large, spiral = (runs[n]["id"] for n in SHORT_RUNS)
    client = api_client(stack)
    # 51 queued runs under one label: past one page of 50.
    extra = [
        submit_run(client, f"page-{i:02d}", {**SHORT, "labels": {"batch": "paging"}})
        for i in range(51)
    ]
    page = dashboard(stack.url).open()
    page.page.wait_for_selector('[data-testid="runs"] tr[data-run-id]')

    page.testid("runs-search").fill("CMP-LR")
    _wait_rows(page, [large, small])  # newest first
    page.page.locator('th[data-sort="name"]').click()
    _wait_rows(page, [large, small])  # "cmp-lr-large" < "cmp-lr-small"
    page.page.locator('th[data-sort="name"]').click()
    _wait_rows(page, [small, large])

    page.testid("runs-columns").select_option("learning_rate")
    cells = page.page.locator('[data-testid="runs"] td[data-hp="learning_rate"]')
    assert cells.all_inner_texts() == ["0.01", "0.05"]
    page.page.locator('th[data-hp="learning_rate"] span').click()
    page.page.locator('th[data-hp="learning_rate"] span').click()  # descending
    _wait_rows(page, [large, small])

    page.testid("runs-search").fill("")
    page.testid("runs-task").select_option("spirals")
    _wait_rows(page, [spiral])
    page.testid("runs-task").select_option("")
    page.testid("runs-state").select_option("completed")
    page.testid("runs-label").fill("sweep=lr")
    page.page.locator('th[data-sort="created_at"]').click()  # newest first
    _wait_rows(page, [large, small])
    page.page.locator('th[data-sort="created_at"]').click()  # then oldest first
    _wait_rows(page, [small, large])

    page.testid("runs-state").select_option("queued")
    page.testid("runs-label").fill("batch=paging")
    page.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=runs] tr[data-run-id]')"
        ".length === 50"
    )
    page.testid("runs-more").click()
    _wait_rows(page, [r["id"] for r in extra])  # oldest first, all 51
    assert page.testid("runs-more").is_hidden()


def test_compare_selected_runs_by_a_shareable_link(
    live: tuple[LiveStack, dict[str, dict[str, Any]]],
    dashboard: Open,
) -> None:
    stack, runs = live
    small, large = runs["cmp-lr-small"]["id"], runs["cmp-lr-large"]["id"]
    page = dashboard(stack.url).open()
    page.testid("runs-label").fill("sweep=lr")
    _wait_rows(page, [large, small])
    page.screenshot(DOC_SHOTS / "fleet.png")
    for run_id in (small, large):
        page.page.locator(
            f'tr[data-run-id="{run_id}"] [data-testid="select-run"]'
        ).check()
    page.testid("compare-selected").click()
    page.page.wait_for_selector('[data-testid="compare-charts"][data-loaded="true"]')
    assert page.page.evaluate("location.hash") == f"#/compare?runs={small},{large}"
    for chart in (
        "compare-loss",
        "compare-val_accuracy",
        "compare-step_time",
        "compare-params",
    ):
        assert page.testid(chart).get_attribute("data-series") == "2", chart
    diff = page.testid("spec-diff")
    assert diff.locator('tr[data-key="learning_rate"]').inner_text().split() == [
        "learning_rate",
        "0.01",
        "0.05",
    ]
    assert diff.locator('tr[data-key="task"]').count() == 0  # the same in both
    page.testid("compare-x").select_option("epoch")
    page.page.wait_for_selector('[data-testid="compare-charts"][data-x="epoch"]')
    assert page.testid("compare-loss").get_attribute("data-series") == "2"
    page.screenshot(DOC_SHOTS / "compare.png")

    shared = dashboard(stack.url).open(f"#/compare?runs={small},{large}")
    shared.page.wait_for_selector('[data-testid="compare-charts"][data-loaded="true"]')
    assert shared.testid("compare-loss").get_attribute("data-series") == "2"
    assert page.errors == [] and shared.errors == []


def _drag(page: Dashboard, testid: str, start: float, end: float) -> None:
    box = page.testid(testid).locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.page.mouse.move(box["x"] + box["width"] * start, y)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.page.mouse.up()


def _scale(page: Dashboard, testid: str) -> list[float]:
    scale: list[float] = page.testid(testid).evaluate(
        "el => [el.chart.plot.scales.x.min, el.chart.plot.scales.x.max]"
    )
    return scale


def test_zoom_fetches_finer_buckets_and_live_points_keep_it(
    live: tuple[LiveStack, dict[str, dict[str, Any]]], dashboard: Open
) -> None:
    stack, runs = live
    run = runs["long"]
    _wait_step(api_client(stack), run["id"], 3000)
    page = dashboard(stack.url).open_run(run["id"])
    first = page.wait_chart_step(1)
    chart = page.testid("chart-loss")
    plot_px = chart.evaluate("el => el.querySelector('.plot').clientWidth")
    assert int(chart.get_attribute("data-resolution") or 0) == plot_px
    overview = chart.evaluate("el => el.chart.primary().width")
    assert overview > 1  # several steps per pixel before the zoom

    _drag(page, "chart-loss", 0.2, 0.3)
    page.page.wait_for_selector('[data-testid="chart-loss"][data-zoom-width]')
    zoom = [
        float(chart.get_attribute(a) or 0) for a in ("data-zoom-from", "data-zoom-to")
    ]
    assert 0 < int(chart.get_attribute("data-zoom-width") or 0) < overview
    assert _scale(page, "chart-loss") == zoom
    page.wait_chart_step(first + 300)  # live points arrive meanwhile
    assert _scale(page, "chart-loss") == zoom  # the zoom held

    page.testid("chart-loss").locator('[data-testid="zoom-reset"]').click()
    low, high = _scale(page, "chart-loss")
    assert high - low > zoom[1] - zoom[0]

    raw = chart.evaluate("el => el.chart.plot.data[1].slice()")
    page.testid("smoothing").fill("0.9")
    page.page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-loss]').dataset.smoothing"
        " === '0.9'"
    )
    page.page.wait_for_timeout(300)  # one throttled redraw
    smooth = chart.evaluate("el => el.chart.plot.data[1].slice()")
    n = min(len(raw), len(smooth))
    assert n > 10 and smooth[:n] != raw[:n]
    page.screenshot(DOC_SHOTS / "run.png")


def test_export_is_every_point_not_the_buckets(
    live: tuple[LiveStack, dict[str, dict[str, Any]]],
    dashboard: Open,
    tmp_path: Path,
) -> None:
    stack, runs = live
    run_id = runs["cmp-lr-small"]["id"]
    page = dashboard(stack.url).open_run(run_id)
    page.page.wait_for_selector('[data-testid="chart-loss"][data-resolution]')
    names = "tolaria.training.loss,tolaria.step.loss,tolaria.validation.loss"
    packets = (
        api_client(stack)
        .get(
            f"/api/v1/runs/{run_id}/telemetry",
            params={"names": names, "kind": "metric", "limit": 5000},
        )
        .json()["items"]
    )
    with page.page.expect_download() as csv_download:
        page.testid("chart-loss").locator('[data-testid="export-csv"]').click()
    csv_path = tmp_path / "loss.csv"
    csv_download.value.save_as(csv_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "name,step,epoch,ts,value,cursor"
    assert [line.rsplit(",", 1)[1] for line in lines[1:]] == [
        p["cursor"] for p in packets
    ]
    with page.page.expect_download() as json_download:
        page.testid("chart-loss").locator('[data-testid="export-json"]').click()
    json_path = tmp_path / "loss.json"
    json_download.value.save_as(json_path)
    exported = json.loads(json_path.read_text())
    assert len(exported["points"]) == len(packets) > 50


def test_run_page_shows_spec_artifacts_and_attempts(
    live: tuple[LiveStack, dict[str, dict[str, Any]]],
    dashboard: Open,
) -> None:
    stack, runs = live
    client = api_client(stack)
    run = client.get(f"/api/v1/runs/{runs['cmp-lr-small']['id']}").json()
    body = client.get(f"/api/v1/runs/{run['id']}/artifacts").json()
    listed = body if isinstance(body, list) else body["items"]
    assert run["worker_id"] and listed, run
    page = dashboard(stack.url).open()
    page.testid("runs-search").fill("cmp-lr-small")  # the list may be pages long
    page.page.locator(f'tr[data-run-id="{run["id"]}"] a[href^="#/runs/"]').click()
    page.page.wait_for_selector('[data-testid="run-head"] h1')

    spec = page.testid("spec")
    learning_rate = spec.locator('tr[data-key="learning_rate"]')
    assert learning_rate.inner_text().split() == ["learning_rate", "0.01"]
    task = spec.locator('tr[data-key="task"]')
    assert task.inner_text().split() == ["task", "digits"]
    assert spec.locator('tr[data-key="labels"]').inner_text().split() == [
        "labels",
        "sweep=lr",
    ]

    wanted = next(a for a in listed if a["name"] == "model.json")
    link = page.page.locator(f'tr[data-artifact="{wanted["name"]}"] a[download]')
    with page.page.expect_download() as info:
        link.click()
    saved = Path(info.value.path()).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == wanted["sha256"]
    assert json.loads(saved)["task"] == "digits"

    attempt = page.testid("attempts").locator('tr[data-attempt="1"]')
    attempt.wait_for()
    cells = attempt.locator("td").all_inner_texts()
    assert cells[0] == "1" and cells[1] == run["worker_id"], cells
    assert cells[2] == "0" and "…" not in cells[3], cells  # started and ended
    assert cells[4] == "completed", cells
    assert page.testid("attempts").locator("tr[data-attempt]").count() == 1
    assert page.errors == []


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
