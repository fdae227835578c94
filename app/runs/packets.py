"""The packets a run's own changes put on its telemetry stream."""

from api_schemas import Level, PacketKind, RunState
from app.bus.publish import packet_json


def state_packet(
    run_id: str, state: RunState, level: Level, attrs: dict[str, str | None]
) -> str:
    """The `run.state` packet of a run's transition (ends its stream if terminal)."""
    return packet_json(
        PacketKind.state,
        "run.state",
        run_id=run_id,
        value=state.value,
        level=level,
        attrs=attrs,
    )
