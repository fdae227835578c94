"""checkpoint_keep: the newest N, the best good one by validation accuracy
(the earliest of equals), and the newest good one."""

from api_schemas.artifacts import ArtifactManifest
from workers.artifacts.retention import best, latest_good, to_prune


def checkpoint(step: int, acc: float | None, good: bool = True) -> ArtifactManifest:
    return ArtifactManifest.model_validate(
        {
            "run_id": "r",
            "name": f"ckpt-{step:09d}.pt",
            "kind": "checkpoint",
            "bytes": 1,
            "sha256": "0" * 64,
            "step": step,
            "created_at": "2026-01-01T00:00:00Z",
            "good": good,
            "val_accuracy": acc,
        }
    )


def steps(found: list[ArtifactManifest]) -> list[int | None]:
    return [c.step for c in found]


def test_keeps_the_newest_and_the_best() -> None:
    found = [checkpoint(s, a) for s, a in [(1, 0.5), (2, 0.9), (3, 0.6), (4, 0.7)]]
    assert steps(to_prune(found, keep=2)) == [1]
    assert steps(to_prune(found, keep=1)) == [1, 3]
    assert steps(to_prune(found, keep=10)) == []


def test_the_best_is_the_earliest_of_equals_and_only_a_good_one() -> None:
    found = [checkpoint(1, 0.8), checkpoint(2, 0.8), checkpoint(3, 0.99, good=False)]
    chosen = best(found)
    assert chosen is not None and chosen.step == 1


def test_the_newest_good_one_survives_unhealthy_newer_ones() -> None:
    found = [checkpoint(1, None), checkpoint(2, None, good=False)]
    found.append(checkpoint(3, None, good=False))
    newest = latest_good(found)
    assert newest is not None and newest.step == 1
    assert steps(to_prune(found, keep=1)) == [2]
