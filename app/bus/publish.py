"""Packets the gateway itself writes: to /ws/fleet and to a run's telemetry stream."""

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from api_schemas import Level, PacketKind, TelemetryPacket
from api_schemas.bus import DATA_FIELD, FLEET_STREAM, telemetry_stream

FLEET_MAXLEN = 10_000
# One packet for the fleet's stream and its run's (no run: the fleet's only):
# (run id, packet JSON).
Packet = tuple[str | None, str]


def packet_json(
    kind: PacketKind,
    name: str,
    *,
    run_id: str | None,
    value: Any = None,
    level: Level = Level.info,
    attrs: dict[str, Any] | None = None,
    step: int | None = None,
    epoch: int | None = None,
) -> str:
    return TelemetryPacket(
        kind=kind,
        name=name,
        run_id=run_id,
        value=value,
        level=level,
        attrs=attrs or {},
        step=step,
        epoch=epoch,
    ).model_dump_json(exclude={"cursor"})


async def publish(redis: Redis, data: str, **where: Any) -> None:
    """One packet, at once (`where`: `add_packet`'s keywords)."""
    pipe = redis.pipeline(transaction=False)
    add_packet(pipe, data, **where)
    await pipe.execute()


async def publish_to_runs(
    redis: Redis, packets: Sequence[Packet], maxlen: int = 100_000
) -> None:
    """(run id, packet) pairs, each to the fleet and its run's stream, in one
    pipeline (one round trip, however many)."""
    if not packets:
        return
    pipe = redis.pipeline(transaction=False)
    for run_id, data in packets:
        add_packet(pipe, data, run_id=run_id, run_stream=True, maxlen=maxlen)
    await pipe.execute()


def add_packet(
    pipe: Pipeline,
    data: str,
    *,
    run_id: str | None,
    fleet: bool = True,
    run_stream: bool = False,
    maxlen: int = 100_000,
) -> None:
    """Queue one packet's XADDs (the fleet's stream, the run's) on `pipe`."""
    if fleet:
        pipe.xadd(
            FLEET_STREAM, {DATA_FIELD: data}, maxlen=FLEET_MAXLEN, approximate=True
        )
    if run_stream and run_id:
        pipe.xadd(
            telemetry_stream(run_id),
            {DATA_FIELD: data},
            maxlen=maxlen,
            approximate=True,
        )
