"""Reading a run's seeds for the API."""

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import SeedRead
from app.models import Seed


async def list_seeds(session: AsyncSession, run_id: str) -> list[SeedRead]:
    """Every seed of the run, in germination order."""
    rows = (await session.exec(select(Seed).where(Seed.run_id == run_id))).all()
    return [
        SeedRead.model_validate(s, from_attributes=True)
        for s in sorted(rows, key=_order)
    ]


def _order(seed: Seed) -> tuple[int, int, str]:
    # Ids are `seed-<n>`, numbered in planting order; two planted at one step
    # (an operator's commands while paused) keep that order.
    number = seed.seed_id.rpartition("-")[2]
    return (seed.germinated_step, int(number) if number.isdigit() else 0, seed.seed_id)
