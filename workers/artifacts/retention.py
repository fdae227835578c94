"""Which of a run's checkpoints stay in the artifact store (`checkpoint_keep`).

Kept: the newest `keep` by step, the best good one by validation accuracy
(the earliest of equals: a checkpoint taken right after the validation it
carries, not one trained further since), and the newest good one (what a run
resumes from and a default rollback restores). Everything else is deleted.
"""

from collections.abc import Iterable

from api_schemas.artifacts import ArtifactManifest


def best(checkpoints: Iterable[ArtifactManifest]) -> ArtifactManifest | None:
    """The good checkpoint with the highest validation accuracy, earliest first."""
    scored = [c for c in checkpoints if c.good and c.val_accuracy is not None]
    if not scored:
        return None
    return max(scored, key=lambda c: (c.val_accuracy, -(c.step or 0)))


def latest_good(checkpoints: Iterable[ArtifactManifest]) -> ArtifactManifest | None:
    good = [c for c in checkpoints if c.good]
    return max(good, key=lambda c: c.step or 0) if good else None


def to_prune(
    checkpoints: Iterable[ArtifactManifest], keep: int
) -> list[ArtifactManifest]:
    """The checkpoints retention deletes, oldest first."""
    ordered = sorted(checkpoints, key=lambda c: (c.step or 0, c.name))
    kept = {c.name for c in ordered[-keep:]} if keep > 0 else set()
    for extra in (best(ordered), latest_good(ordered)):
        if extra is not None:
            kept.add(extra.name)
    return [c for c in ordered if c.name not in kept]
