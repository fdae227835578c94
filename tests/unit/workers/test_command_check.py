"""Command verification at the worker: each rejection reason, and acceptance."""

import time
import uuid
from typing import TypedDict, Unpack

import pytest

from api_schemas.bus import SignedCommand
from api_schemas.signing import SignatureError, sign
from workers.commands import check_command
from workers.nonce import NonceLedger

KEYS = {"k1": "secret-one", "k2": "secret-two"}
NOW = 1_700_000_000.0


def command(**changes: object) -> SignedCommand:
    fields: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "run_id": "run-1",
        "type": "pause",
        "params": {},
        "nonce": uuid.uuid4().hex,
        "issued_at": NOW,
        "key_id": "k1",
    }
    fields.update(changes)
    return sign(SignedCommand.model_validate(fields), KEYS)


def check(
    cmd: SignedCommand,
    ledger: NonceLedger | None = None,
    keys: dict[str, str] = KEYS,
    run_id: str | None = "run-1",
) -> None:
    ledger = NonceLedger(100, 600) if ledger is None else ledger
    check_command(
        cmd, keys, ledger, run_id=run_id, max_age_s=300, max_skew_s=5, now=NOW
    )


class CheckArgs(TypedDict, total=False):
    ledger: NonceLedger | None
    keys: dict[str, str]
    run_id: str | None


def reason_of(cmd: SignedCommand, **kwargs: Unpack[CheckArgs]) -> str:
    with pytest.raises(SignatureError) as info:
        check(cmd, **kwargs)
    return info.value.reason


def test_a_good_command_passes_and_its_nonce_is_recorded() -> None:
    ledger = NonceLedger(100, 600)
    cmd = command()
    check(cmd, ledger)
    assert len(ledger) == 1


def test_a_second_key_verifies_during_rotation() -> None:
    check(command(key_id="k2"))


def test_forged_signature() -> None:
    forged = command().model_copy(update={"signature": "0" * 64})
    assert reason_of(forged) == "invalid_signature"


def test_tampered_params_break_the_signature() -> None:
    tampered = command().model_copy(update={"type": "stop"})
    assert reason_of(tampered) == "invalid_signature"


def test_unknown_key() -> None:
    cmd = command(key_id="k2")
    assert reason_of(cmd, keys={"k1": KEYS["k1"]}) == "unknown_key"


def test_stale_command() -> None:
    assert reason_of(command(issued_at=NOW - 301)) == "stale_command"


def test_issued_in_future() -> None:
    assert reason_of(command(issued_at=NOW + 6)) == "issued_in_future"


def test_replayed_nonce() -> None:
    ledger = NonceLedger(100, 600)
    cmd = command()
    check(cmd, ledger)
    assert reason_of(cmd, ledger=ledger) == "nonce_replayed"


def test_a_command_for_another_run() -> None:
    assert reason_of(command(run_id="run-2")) == "wrong_run"


def test_a_broadcast_command_is_accepted_by_any_run() -> None:
    check(command(run_id=None), run_id="run-7")


def test_a_forged_command_does_not_burn_its_nonce() -> None:
    ledger = NonceLedger(100, 600)
    good = command()
    forged = good.model_copy(update={"signature": "f" * 64})
    assert reason_of(forged, ledger=ledger) == "invalid_signature"
    check(good, ledger)


def test_the_real_clock_is_used_by_default() -> None:
    fresh = command(issued_at=time.time())
    check_command(
        fresh, KEYS, NonceLedger(10, 600), run_id="run-1", max_age_s=300, max_skew_s=5
    )
