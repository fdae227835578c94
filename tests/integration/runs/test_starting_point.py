"""`resume_from` in a run spec: the new run's assignment names the source
run's checkpoint to fork from, or the request is refused with a 422."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunCreate
from api_schemas.bus import RunAssignment
from app.bus.outbox import pending
from app.errors import Unprocessable
from app.models import Checkpoint, Run
from app.runs.service import create_run

SPEC: dict[str, Any] = {"task": "digits", "epochs": 1, "device": "cpu"}
Sessions = async_sessionmaker[AsyncSession]


async def _source_run(sessions: Sessions, *steps: tuple[int, bool]) -> str:
    """A run with checkpoints at these (step, good) pairs."""
    async with sessions() as session:
        run, _ = await create_run(session, RunCreate.model_validate(SPEC), None)
        for step, good in steps:
            session.add(
                Checkpoint(
                    run_id=run.id,
                    id=f"ckpt-{step:09d}",
                    path=f"runs/{run.id}/ckpt-{step:09d}.pt",
                    step=step,
                    good=good,
                )
            )
        await session.commit()
        return run.id


async def _fork(sessions: Sessions, **resume_from: Any) -> dict[str, Any]:
    spec = RunCreate.model_validate({**SPEC, "resume_from": resume_from})
    async with sessions() as session:
        run, _ = await create_run(session, spec, None)
        await session.commit()
        assert isinstance(run, Run)
        assignment = [m for m in pending(session) if m.row.run_id == run.id][-1]
        resume = RunAssignment.model_validate_json(assignment.data).resume
        assert resume is not None
        return resume.model_dump()


@pytest.mark.asyncio
async def test_the_latest_good_checkpoint_unless_one_is_named(
    sessions: Sessions,
) -> None:
    source = await _source_run(sessions, (10, True), (20, True), (30, False))
    latest = await _fork(sessions, run_id=source)
    assert latest == {"run_id": source, "checkpoint_id": "ckpt-000000020", "fork": True}
    named = await _fork(sessions, run_id=source, checkpoint_id="ckpt-000000010")
    assert named["checkpoint_id"] == "ckpt-000000010"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"run_id": "no-such-run"}, "unknown_run"),
        ({"checkpoint_id": "ckpt-000000099"}, "unknown_checkpoint"),
        ({"task": "spirals"}, "resume_mismatch"),
    ],
)
async def test_a_start_that_cannot_load_is_refused(
    sessions: Sessions, change: dict[str, Any], code: str
) -> None:
    source = await _source_run(sessions, (10, True))
    resume = {"run_id": change.get("run_id", source)}
    if "checkpoint_id" in change:
        resume["checkpoint_id"] = change["checkpoint_id"]
    spec = RunCreate.model_validate(
        {**SPEC, "task": change.get("task", "digits"), "resume_from": resume}
    )
    async with sessions() as session:
        with pytest.raises(Unprocessable) as refused:
            await create_run(session, spec, None)
    assert refused.value.code == code
