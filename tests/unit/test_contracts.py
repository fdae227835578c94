"""Leyline contracts: run specs, the command union, signing and cursors."""

import time

import pytest
from pydantic import ValidationError

from api_schemas import RunCreate
from api_schemas.bus import SignedCommand
from api_schemas.catalogue import is_import_path, task_slots
from api_schemas.commands import SeedEnable, command_create_adapter
from api_schemas.enums import Role, RunState
from api_schemas.signing import SignatureError, parse_keyring, sign, verify
from api_schemas.telemetry import cursor_key

KEYS = {"k1": "secret-one", "k2": "secret-two"}


def signed(**overrides: object) -> SignedCommand:
    fields: dict[str, object] = {
        "id": "c1",
        "run_id": "r1",
        "type": "pause",
        "params": {},
        "nonce": "n1",
        "issued_at": time.time(),
        "key_id": "k1",
    }
    fields.update(overrides)
    return sign(SignedCommand.model_validate(fields), KEYS)


def test_run_spec_defaults_and_unknown_fields() -> None:
    spec = RunCreate(task="digits")
    assert spec.epochs == 5 and spec.morphogenesis.enabled
    with pytest.raises(ValidationError):
        RunCreate.model_validate({"task": "digits", "surprise": 1})
    with pytest.raises(ValidationError):
        RunCreate.model_validate({"task": "digits", "epochs": 0})


def test_command_union_is_discriminated_by_type() -> None:
    body = command_create_adapter.validate_python(
        {"type": "seed_enable", "slot": "block0", "blueprint": "low_rank"}
    )
    assert isinstance(body, SeedEnable)
    with pytest.raises(ValidationError):
        command_create_adapter.validate_python({"type": "explode"})
    with pytest.raises(ValidationError):
        command_create_adapter.validate_python({"type": "seed_enable", "slot": "b"})


def test_signature_round_trip_and_every_rejection_reason() -> None:
    verify(signed(), KEYS)
    verify(signed(key_id="k2"), KEYS)
    cases = {
        "invalid_signature": signed().model_copy(update={"params": {"x": 1}}),
        "unknown_key": signed().model_copy(update={"key_id": "k9"}),
        "stale_command": signed(issued_at=time.time() - 3600),
        "issued_in_future": signed(issued_at=time.time() + 3600),
    }
    for reason, command in cases.items():
        with pytest.raises(SignatureError) as info:
            verify(command, KEYS)
        assert info.value.reason == reason


def test_keyring_parses_rotation_keys() -> None:
    assert parse_keyring("a", "k2=b, k3=c,bad", "k1") == {
        "k1": "a",
        "k2": "b",
        "k3": "c",
    }


def test_roles_are_ordered() -> None:
    assert Role.admin.allows(Role.operator) and Role.operator.allows(Role.viewer)
    assert not Role.viewer.allows(Role.operator)


def test_run_state_terminal_and_live() -> None:
    assert RunState.halted.terminal and not RunState.paused.terminal
    assert RunState.paused.live and not RunState.queued.live


def test_slots_and_task_paths_and_cursors() -> None:
    assert task_slots("digits", None) == ["block0", "block1"]
    assert task_slots("spirals", 3) == ["block0", "block1", "block2"]
    assert task_slots("pkg.mod:factory", 2) is None
    assert is_import_path("pkg.mod:factory") and not is_import_path("digits")
    assert cursor_key("1700000000000-5") < cursor_key("1700000000001-0")
