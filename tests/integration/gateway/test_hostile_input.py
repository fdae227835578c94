"""Crafted input (cursors, NUL characters, NaN, booleans for numbers, LIKE
wildcards in the label filter) gets a 4xx with a machine code, never a 500, on
SQLite and on PostgreSQL (issue 20, item 7)."""

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.fixtures.gateway import GatewayProcess
from tests.integration.gateway.test_bad_input import assert_error


def cursor_of(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Each shape a client could craft: the decoded parts have the wrong count, the
# wrong types or an unparseable time.
CURSORS = {
    "not base64": "!!!!~~~~",
    "not json": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    "one part": cursor_of(["2024-01-01T00:00:00+00:00"]),
    "three parts": cursor_of(["2024-01-01T00:00:00+00:00", "a", "b"]),
    "not a list": cursor_of({"at": "2024-01-01", "id": "a"}),
    "non-ISO date": cursor_of(["yesterday", "a"]),
    "integer date": cursor_of([1700000000, "a"]),
    "integer id": cursor_of(["2024-01-01T00:00:00+00:00", 8]),
    "null parts": cursor_of([None, None]),
    "NUL id": cursor_of(["2024-01-01T00:00:00+00:00", "a\x00"]),
}


@pytest.fixture
def run_id(client: httpx.Client) -> str:
    response = client.post("/api/v1/runs", json={"task": "digits"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize("shape", sorted(CURSORS))
def test_crafted_cursors_are_400(client: httpx.Client, run_id: str, shape: str) -> None:
    params = {"cursor": CURSORS[shape]}
    for url in ("/api/v1/runs", f"/api/v1/runs/{run_id}/commands"):
        assert_error(client.get(url, params=params), 400, "invalid_cursor")


def test_a_cursor_in_another_offset_still_pages(client: httpx.Client) -> None:
    # A valid time in another offset (or naive) is compared as UTC, not refused.
    for when in ("2999-01-01T05:00:00+05:00", "2999-01-01T00:00:00"):
        page = client.get("/api/v1/runs", params={"cursor": cursor_of([when, "z"])})
        assert page.status_code == 200, page.text


NUL_IN_BODY = {
    "name": {"task": "digits", "name": "a\x00b"},
    "label value": {"task": "digits", "labels": {"team": "a\x00"}},
    "label key": {"task": "digits", "labels": {"te\x00am": "a"}},
    "task": {"task": "dig\x00its"},
    "model option": {"task": "digits", "model": {"options": {"k": "v\x00"}}},
}


@pytest.mark.parametrize("where", sorted(NUL_IN_BODY))
def test_nul_in_a_run_body_is_422(client: httpx.Client, where: str) -> None:
    response = client.post("/api/v1/runs", json=NUL_IN_BODY[where])
    assert_error(response, 422, "validation_error")


def test_nul_in_a_command_or_key_body_is_422(client: httpx.Client, run_id: str) -> None:
    body = {"type": "emergency_halt", "reason": "x\x00"}
    response = client.post(f"/api/v1/runs/{run_id}/commands", json=body)
    assert_error(response, 422, "validation_error")
    key = {"name": "k\x00", "role": "viewer"}
    assert_error(client.post("/api/v1/keys", json=key), 422, "validation_error")


def test_nul_in_paths_and_queries_is_400(client: httpx.Client, run_id: str) -> None:
    for url, params in (
        ("/api/v1/runs", {"label": "team=a\x00"}),
        ("/api/v1/runs/a%00b", {}),
        (f"/api/v1/runs/{run_id}%00", {}),
        ("/api/v1/commands/c%00d", {}),
        (f"/api/v1/runs/{run_id}/telemetry", {"names": "tolaria.\x00*"}),
        (f"/api/v1/runs/{run_id}/commands", {"cursor": "a\x00"}),
    ):
        response = client.get(url, params=params)
        assert_error(response, 400, "invalid_characters")


def test_nul_in_a_websocket_url_is_refused_at_the_handshake(
    gateway: GatewayProcess, run_id: str
) -> None:
    base = gateway.url.replace("http", "ws")
    for path in (f"/ws/runs/{run_id}?names=a%00", "/ws/runs/a%00b"):
        with pytest.raises(InvalidStatus) as info:
            connect(base + path).close()
        assert info.value.response.status_code == 403


NON_FINITE = ["NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("token", NON_FINITE)
def test_non_finite_numbers_are_422(client: httpx.Client, token: str) -> None:
    # JSON's NaN/Infinity tokens, which Python's parser accepts, in a float map,
    # a float field and a free option.
    for body in (
        '{"task": "digits", "morphogenesis": {"gates": {"g1": %s}}}',
        '{"task": "digits", "learning_rate": %s}',
        '{"task": "digits", "model": {"options": {"k": %s}}}',
    ):
        response = client.post(
            "/api/v1/runs",
            content=(body % token).encode(),
            headers={"content-type": "application/json"},
        )
        assert_error(response, 422, "validation_error")


BOOLEANS_FOR_NUMBERS = {
    "epochs": {"task": "digits", "epochs": False},
    "seed": {"task": "digits", "seed": True},
    "devices": {"task": "digits", "devices": True},
    "max_seeds": {"task": "digits", "morphogenesis": {"max_seeds": False}},
    "gate": {"task": "digits", "morphogenesis": {"gates": {"g1": True}}},
    "learning_rate": {"task": "digits", "learning_rate": True},
}


@pytest.mark.parametrize("field", sorted(BOOLEANS_FOR_NUMBERS))
def test_booleans_for_numbers_are_422(client: httpx.Client, field: str) -> None:
    response = client.post("/api/v1/runs", json=BOOLEANS_FOR_NUMBERS[field])
    assert_error(response, 422, "validation_error")


def test_profile_steps_refuse_a_boolean(client: httpx.Client, run_id: str) -> None:
    body = {"type": "profile", "steps": True}
    response = client.post(f"/api/v1/runs/{run_id}/commands", json=body)
    assert_error(response, 422, "validation_error")


def test_booleans_stay_accepted_where_the_schema_has_them(
    client: httpx.Client,
) -> None:
    body = {
        "task": "digits",
        "morphogenesis": {"enabled": False},
        "model": {"options": {"flag": True}},
    }
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text


def labelled(client: httpx.Client, value: str) -> str:
    body = {"task": "digits", "labels": {"team": value}}
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def listed(client: httpx.Client, label: str) -> set[str]:
    response = client.get("/api/v1/runs", params={"label": label, "limit": 500})
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


def test_label_filter_is_exact_and_has_no_wildcards(client: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    underscore = labelled(client, f"a_{tag}")
    other = labelled(client, f"axb{tag}")
    percent = labelled(client, f"100%{tag}")
    assert listed(client, f"team=a_{tag}") == {underscore}
    assert listed(client, f"team=axb{tag}") == {other}
    assert listed(client, f"team=100%{tag}") == {percent}
    assert listed(client, f"team=%{tag}") == set()
    assert listed(client, f"team=a_{tag[:4]}") == set()  # a prefix is not a match


@pytest.mark.parametrize("label", ["team", "=a", "te am=a", "team=a|b=c"])
def test_malformed_label_filters_are_422(client: httpx.Client, label: str) -> None:
    response = client.get("/api/v1/runs", params={"label": label})
    assert_error(response, 422, "invalid_label_filter")


def test_a_label_value_may_not_hold_the_separator(client: httpx.Client) -> None:
    body = {"task": "digits", "labels": {"team": "a|x=y"}}
    assert_error(client.post("/api/v1/runs", json=body), 422, "validation_error")
