import itertools

import pytest

from api_schemas.enums import SeedStage
from workers.engine.seeds.lifecycle import (
    TRANSITIONS,
    IllegalTransition,
    check_transition,
)
from workers.engine.seeds.slot import SeedSlot

S = SeedStage
LEGAL = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
ALL_PAIRS = list(itertools.product(SeedStage, SeedStage))


def test_table_covers_all_twelve_stages() -> None:
    assert set(TRANSITIONS) == set(SeedStage)
    assert len(SeedStage) == 12


def test_the_domain_path_is_legal() -> None:
    path = [
        S.UNKNOWN,
        S.DORMANT,
        S.GERMINATED,
        S.TRAINING,
        S.BLENDING,
        S.SHADOWING,
        S.PROBATIONARY,
        S.FOSSILIZED,
        S.TERMINATED,
    ]
    for a, b in itertools.pairwise(path):
        check_transition(a, b)
    for live in (S.GERMINATED, S.TRAINING, S.BLENDING, S.SHADOWING, S.PROBATIONARY):
        check_transition(live, S.CULLED)
    for a, b in [
        (S.CULLED, S.EMBARGOED),
        (S.EMBARGOED, S.RESETTING),
        (S.RESETTING, S.DORMANT),
    ]:
        check_transition(a, b)


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_every_legal_transition_is_accepted(
    current: SeedStage, target: SeedStage
) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL]
)
def test_every_illegal_transition_raises(current: SeedStage, target: SeedStage) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_slot_refuses_an_illegal_jump() -> None:
    slot = SeedSlot("s", (4,))
    slot.set_stage(S.DORMANT)
    with pytest.raises(IllegalTransition):
        slot.set_stage(S.FOSSILIZED)
    assert slot.stage is S.DORMANT
