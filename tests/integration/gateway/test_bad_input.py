"""Bad input gets 4xx with the error model; never a 500 or a stack trace."""

import httpx
import pytest

CASES = [
    ("wrong type", {"task": "digits", "epochs": "many"}, 422, "validation_error"),
    ("unknown field", {"task": "digits", "colour": "blue"}, 422, "validation_error"),
    ("epochs zero", {"task": "digits", "epochs": 0}, 422, "validation_error"),
    ("epochs too many", {"task": "digits", "epochs": 100001}, 422, "validation_error"),
    ("huge name", {"task": "digits", "name": "x" * 10_000}, 422, "validation_error"),
    ("missing task", {"epochs": 1}, 422, "validation_error"),
    ("unknown task", {"task": "mnist-of-doom"}, 422, "unknown_task"),
    ("bad device", {"task": "digits", "device": "tpu"}, 422, "validation_error"),
    (
        "unknown blueprint",
        {"task": "digits", "morphogenesis": {"blueprints": ["x"]}},
        422,
        "unknown_blueprint",
    ),
    (
        "unknown slot",
        {"task": "digits", "morphogenesis": {"slots": ["block9"]}},
        422,
        "unknown_slot",
    ),
    (
        "nested unknown field",
        {"task": "digits", "model": {"widht": 3}},
        422,
        "validation_error",
    ),
    ("not an object", [1, 2, 3], 422, "validation_error"),
    (
        "pcgrad over devices",
        {
            "task": "digits",
            "devices": 2,
            "morphogenesis": {"gradient_aggregation": "pcgrad"},
        },
        422,
        "validation_error",
    ),
    (
        "unknown aggregation",
        {"task": "digits", "morphogenesis": {"gradient_aggregation": "mean"}},
        422,
        "validation_error",
    ),
    (
        "learned weights as a path",
        {
            "task": "digits",
            "morphogenesis": {
                "policy": "learned",
                "policy_options": {"weights": "../../etc/passwd"},
            },
        },
        422,
        "validation_error",
    ),
]


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("name", "body", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_run_bodies_are_rejected(
    client: httpx.Client, name: str, body: object, status: int, code: str
) -> None:
    assert_error(client.post("/api/v1/runs", json=body), status, code)


def test_non_json_body_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/runs",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")


def test_oversized_body_is_413(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/runs",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large")


def test_malformed_cursor_and_limit(client: httpx.Client) -> None:
    assert_error(
        client.get("/api/v1/runs", params={"cursor": "%%%"}), 400, "invalid_cursor"
    )
    assert_error(
        client.get("/api/v1/runs", params={"limit": 0}), 422, "validation_error"
    )
    assert_error(
        client.get("/api/v1/runs", params={"limit": 501}), 422, "validation_error"
    )
    assert_error(
        client.get("/api/v1/runs", params={"state": "sleeping"}),
        422,
        "validation_error",
    )


def test_unknown_command_type_and_bad_params(client: httpx.Client) -> None:
    run = client.post("/api/v1/runs", json={"task": "digits"}).json()
    url = f"/api/v1/runs/{run['id']}/commands"
    assert_error(
        client.post(url, json={"type": "self_destruct"}), 422, "validation_error"
    )
    assert_error(
        client.post(
            url, json={"type": "seed_enable", "slot": "block0", "blueprint": "nope"}
        ),
        422,
        "unknown_blueprint",
    )
    assert_error(
        client.post(
            url, json={"type": "seed_enable", "slot": "block7", "blueprint": "low_rank"}
        ),
        422,
        "unknown_slot",
    )
    assert_error(
        client.post(url, json={"type": "pause", "extra": 1}), 422, "validation_error"
    )
    assert_error(
        client.post(url + "?wait=31", json={"type": "pause"}), 422, "validation_error"
    )
    for steps in (0, 501, -1, True, 2.5, None):  # profile: steps 1..500
        assert_error(
            client.post(url, json={"type": "profile", "steps": steps}),
            422,
            "validation_error",
        )
    for steps in (1, 500):
        ok = client.post(url, json={"type": "profile", "steps": steps})
        assert ok.status_code == 202 and ok.json()["params"] == {"steps": steps}
    default = client.post(url, json={"type": "profile"}).json()
    assert default["type"] == "profile" and default["params"] == {"steps": 20}


def test_commands_to_an_unknown_run_are_404_and_write_nothing(
    client: httpx.Client,
) -> None:
    # The command route checks the run inside its INSERT (no lookup before it):
    # the error must still be the run's own, and no ledger row may be left.
    url = "/api/v1/runs/no-such-run/commands"
    for body in (
        {"type": "emergency_halt", "reason": "x"},
        {"type": "pause"},
        {"type": "seed_enable", "slot": "block0", "blueprint": "low_rank"},
    ):
        assert_error(client.post(url, json=body), 404, "run_not_found")
    assert_error(client.get(url), 404, "run_not_found")
    live = client.post("/api/v1/runs", json={"task": "digits"}).json()["id"]
    halt = client.post(
        f"/api/v1/runs/{live}/commands", json={"type": "emergency_halt", "reason": "x"}
    )
    assert halt.status_code == 202, halt.text
    # No worker here: the gateway ends the queued run and applies the halt.
    assert halt.json()["run_id"] == live and halt.json()["state"] == "applied"


def test_unknown_path_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.delete("/api/v1/runs"), 405, "method_not_allowed")
