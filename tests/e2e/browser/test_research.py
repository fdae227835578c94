"""The researcher's dashboard (issue 23) in headless Chromium against one live
stack (shared with test_research_architecture.py: `live` in conftest.py):
charts that show only real gaps, the runs list, compare, zoom, smoothing,
export, and the run page's spec, artifacts and attempts. Each test acts
through the page as a user would."""

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser.dashboard import Dashboard, api_client, submit_run
from tests.e2e.browser.research_stack import DOC_SHOTS, SHORT, SHORT_RUNS, Open
from tests.fixtures.stack import LiveStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


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
