"""`devices` against the registered workers: a spec no worker could ever serve
is refused (422 `devices_unavailable`) instead of queueing forever or, on CPU,
spawning as many rank processes as it asks for (issue 20, item 2)."""

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunCreate
from api_schemas.capacity import can_serve_devices
from app.errors import Unprocessable
from app.models import Worker


async def check_devices(session: AsyncSession, spec: RunCreate) -> None:
    """Every registered worker counts, lost ones too: runs still queue while
    workers restart, as for tasks."""
    if spec.devices is None or spec.devices == 1:
        return
    rows = (await session.exec(select(Worker))).all()
    if any(
        can_serve_devices(w.device, w.capabilities or {}, spec.device, spec.devices)
        for w in rows
    ):
        return
    raise Unprocessable(
        f"No registered worker can serve devices={spec.devices} on "
        f"{spec.device!r}: CPU runs get at most one rank per core of a worker "
        "(8 at most), GPU runs at most the GPUs of one worker's host.",
        code="devices_unavailable",
    )
