"""The rules for runs: validation beyond the schema, idempotency, the assignment
committed with the run (sent once the request commits); run reads."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunCreate, RunRead, RunState
from api_schemas.bus import RunAssignment
from api_schemas.catalogue import BLUEPRINTS_BY_NAME, task_slots
from api_schemas.runs import LABEL_KEY
from app.errors import Conflict, NotFound, Unprocessable
from app.idempotency import request_hash
from app.models import Run
from app.models._types import as_utc
from app.runs.capacity import check_devices
from app.runs.forks import starting_point
from app.runs.outbox import enqueue_assignment
from app.runs.registry import check_names


def validate_spec(spec: RunCreate) -> None:
    """Checks the schema cannot express: known blueprints and slots (the task and
    policy names: app/runs/registry.py)."""
    morph = spec.morphogenesis
    unknown = [b for b in morph.blueprints or [] if b not in BLUEPRINTS_BY_NAME]
    if unknown:
        raise Unprocessable(f"Unknown blueprints: {unknown}.", code="unknown_blueprint")
    slots = task_slots(spec.task, spec.model.depth, spec.model.options.get("host"))
    bad_slots = [s for s in morph.slots or [] if slots is not None and s not in slots]
    if bad_slots:
        raise Unprocessable(
            f"Unknown slots {bad_slots}; this host has {slots}.", code="unknown_slot"
        )


def labels_text(labels: dict[str, str]) -> str:
    return "|" + "".join(f"{k}={v}|" for k, v in sorted(labels.items()))


def label_clause(label: str) -> ColumnElement[bool]:
    """`key=value`, matched exactly: `|key=value|` in labels_text, with LIKE's
    `%` and `_` escaped (they are ordinary characters in a label)."""
    key, sep, value = label.partition("=")
    if not sep or not LABEL_KEY.fullmatch(key) or "|" in value:
        raise Unprocessable(
            f"label must be key=value with a valid key, not {label[:80]!r}.",
            code="invalid_label_filter",
        )
    return col(Run.labels_text).contains(f"|{label}|", autoescape=True)


async def create_run(
    session: AsyncSession,
    spec: RunCreate,
    idem_key: str | None,
    import_prefixes: Sequence[str] = (),
) -> tuple[Run, bool]:
    """Returns (run, created); an idempotent repeat returns the original.
    `import_prefixes`: the modules a task or policy may name by import path."""
    await check_names(session, spec, import_prefixes)
    validate_spec(spec)
    await check_devices(session, spec)
    body = spec.model_dump(mode="json")
    digest = request_hash(body)
    if idem_key is not None:
        existing = (
            await session.exec(select(Run).where(Run.idempotency_key == idem_key))
        ).first()
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict(
                    "Idempotency-Key was used with a different body.",
                    code="idempotency_conflict",
                )
            return existing, False
    run = Run(
        name=spec.name,
        spec=body,
        labels_text=labels_text(spec.labels),
        idempotency_key=idem_key,
        request_hash=digest,
    )
    start = await starting_point(session, spec)
    session.add(run)
    enqueue_assignment(session, RunAssignment(run_id=run.id, spec=spec, resume=start))
    await session.flush()
    return run, True


def run_read(run: Run) -> RunRead:
    data: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "state": run.state,
        "spec": run.spec,
        "worker_id": run.worker_id,
        "created_at": as_utc(run.created_at),
        "started_at": as_utc(run.started_at),
        "finished_at": as_utc(run.finished_at),
        "epoch": run.epoch,
        "step": run.step,
        "metrics": run.metrics or {},
        "seeds": run.seeds or {},
        "error": run.error,
        "halt_reason": run.halt_reason,
        "result": run.result or {},
        "attempt": run.attempt,
        "restarts": run.restarts,
    }
    return RunRead.model_validate(data)


async def run_or_404(session: AsyncSession, run_id: str) -> Run:
    run = await session.get(Run, run_id)
    if run is None:
        raise NotFound(f"No run with id {run_id}.", code="run_not_found")
    return run


def ensure_live(run: Run) -> None:
    if RunState(run.state).terminal:
        raise Conflict(
            f"Run {run.id} is {run.state}; terminal runs take no commands.",
            code="run_terminal",
        )
