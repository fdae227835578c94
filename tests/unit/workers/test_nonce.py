"""The nonce ledger: replays refused, TTL honoured, size bounded, evictions counted."""

import pytest

from workers.nonce import NonceLedger


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_nonce_is_accepted_once() -> None:
    ledger = NonceLedger(capacity=10, ttl_s=60)
    assert ledger.remember("a")
    assert not ledger.remember("a")
    assert ledger.remember("b")


def test_a_nonce_is_forgotten_after_its_ttl() -> None:
    clock = Clock()
    ledger = NonceLedger(capacity=10, ttl_s=60, clock=clock)
    ledger.remember("a")
    clock.now += 59.9
    assert not ledger.remember("a")
    clock.now += 0.2
    assert ledger.remember("a")


def test_expired_nonces_leave_the_ledger_without_counting_as_evictions() -> None:
    clock = Clock()
    ledger = NonceLedger(capacity=3, ttl_s=10, clock=clock)
    for nonce in "abc":
        ledger.remember(nonce)
    clock.now += 11
    ledger.remember("d")
    assert len(ledger) == 1
    assert ledger.evictions == 0


def test_the_ledger_is_bounded_and_counts_evictions_oldest_first() -> None:
    ledger = NonceLedger(capacity=3, ttl_s=600)
    for nonce in "abcde":
        assert ledger.remember(nonce)
    assert len(ledger) == 3
    assert ledger.evictions == 2
    assert ledger.remember("a"), "the oldest nonce was evicted, so it is new again"
    assert not ledger.remember("e"), "the newest nonce is still remembered"


def test_clear_forgets_everything() -> None:
    ledger = NonceLedger(capacity=3, ttl_s=600)
    ledger.remember("a")
    ledger.clear()
    assert len(ledger) == 0
    assert ledger.remember("a")


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        NonceLedger(capacity=0, ttl_s=1)
