"""The seed lifecycle: twelve stages and the one table of legal transitions.

Every stage change goes through `check_transition`, so an illegal move raises
instead of being silently ignored (the original prototype's failure mode).
"""

from api_schemas.enums import SeedStage

S = SeedStage

# Stages in which a seed is alive and can still be culled.
LIVE_STAGES = frozenset(
    {S.GERMINATED, S.TRAINING, S.BLENDING, S.SHADOWING, S.PROBATIONARY}
)
# Stages whose module is part of the forward pass with a real effect.
BLENDED_STAGES = frozenset({S.BLENDING, S.SHADOWING, S.PROBATIONARY, S.FOSSILIZED})

TRANSITIONS: dict[SeedStage, frozenset[SeedStage]] = {
    S.UNKNOWN: frozenset({S.DORMANT, S.TERMINATED}),
    S.DORMANT: frozenset({S.GERMINATED, S.TERMINATED}),
    S.GERMINATED: frozenset({S.TRAINING, S.CULLED, S.TERMINATED}),
    S.TRAINING: frozenset({S.BLENDING, S.CULLED, S.TERMINATED}),
    S.BLENDING: frozenset({S.SHADOWING, S.CULLED, S.TERMINATED}),
    S.SHADOWING: frozenset({S.PROBATIONARY, S.CULLED, S.TERMINATED}),
    S.PROBATIONARY: frozenset({S.FOSSILIZED, S.CULLED, S.TERMINATED}),
    S.FOSSILIZED: frozenset({S.TERMINATED}),
    S.CULLED: frozenset({S.EMBARGOED, S.TERMINATED}),
    S.EMBARGOED: frozenset({S.RESETTING, S.TERMINATED}),
    S.RESETTING: frozenset({S.DORMANT, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}


class IllegalTransition(ValueError):
    """A stage change that the lifecycle table does not allow."""

    def __init__(self, current: SeedStage, target: SeedStage) -> None:
        super().__init__(f"illegal seed transition {current.value} -> {target.value}")
        self.current = current
        self.target = target


def is_legal(current: SeedStage, target: SeedStage) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: SeedStage, target: SeedStage) -> None:
    """Raise IllegalTransition unless current -> target is in the table."""
    if not is_legal(current, target):
        raise IllegalTransition(current, target)
