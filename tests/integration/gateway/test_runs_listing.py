"""The runs list's search, task filter and sorts over real HTTP on SQLite and
PostgreSQL: every run once across pages, in order; bad input a 4xx with a code."""

import uuid
from typing import Any

import httpx


def _make(client: httpx.Client, tag: str, name: str | None, task: str) -> str:
    body: dict[str, Any] = {"task": task, "epochs": 1, "labels": {"listing": tag}}
    if name is not None:
        body["name"] = name
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


def _walk(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/runs", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page["items"]
        if not (cursor := page["next_cursor"]):
            return seen


def test_search_task_and_sorted_pages(client: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    names = ["beta-Wide", "alpha", None, "gamma-wide", "alpha"]
    tasks = ["digits", "spirals", "digits", "digits", "spirals"]
    ids = [_make(client, tag, n, t) for n, t in zip(names, tasks, strict=True)]
    label = f"listing={tag}"

    by_name = _walk(client, label=label, sort="name")
    # Missing names sort as "", ties by (created_at, id) in the sort's direction.
    assert [r["id"] for r in by_name] == [ids[2], ids[1], ids[4], ids[0], ids[3]]
    by_name_desc = _walk(client, label=label, sort="-name")
    assert [r["id"] for r in by_name_desc] == [ids[3], ids[0], ids[4], ids[1], ids[2]]
    oldest_first = _walk(client, label=label, sort="created_at")
    assert [r["id"] for r in oldest_first] == ids

    wide = _walk(client, label=label, q="WIDE")
    assert {r["id"] for r in wide} == {ids[0], ids[3]}
    assert [r["id"] for r in _walk(client, q=ids[2][:8])] == [ids[2]]
    spirals = _walk(client, label=label, task="spirals")
    assert [r["id"] for r in spirals] == [ids[4], ids[1]]
    # A LIKE wildcard in the search is an ordinary character.
    assert _walk(client, label=label, q="%") == []


def test_bad_listing_input_is_a_coded_4xx(client: httpx.Client) -> None:
    sort = client.get("/api/v1/runs", params={"sort": "loss"})
    assert sort.status_code == 422
    assert sort.json()["error"]["code"] == "validation_error"
    long_q = client.get("/api/v1/runs", params={"q": "x" * 201})
    assert long_q.status_code == 422
    # A cursor of another sort's shape is refused, not misread.
    tag = uuid.uuid4().hex[:8]
    for _ in range(3):
        _make(client, tag, "same", "digits")
    page = client.get(
        "/api/v1/runs", params={"label": f"listing={tag}", "limit": 1}
    ).json()
    crossed = client.get(
        "/api/v1/runs", params={"sort": "name", "cursor": page["next_cursor"]}
    )
    assert crossed.status_code == 400
    assert crossed.json()["error"]["code"] == "invalid_cursor"
