"""`esper runs pause|resume|stop|halt|rollback|seed-enable|seed-disable|profile`:
signed commands to one run, each waited for (`--wait` seconds, 0 to return at
once) so the exit code says whether the worker applied it."""

from typing import Annotated, Any

import typer
from esper_client.api.commands import create_command
from esper_client.models import (
    EmergencyHalt,
    Pause,
    Profile,
    Resume,
    Rollback,
    SeedDisable,
    SeedEnable,
    Stop,
)

from app.cli.client.session import CliFailure, ExitCode, Session, client_command, ok

COMMAND_COLUMNS = ["id", "type", "state", "reason", "acked_at"]
RunId = Annotated[str, typer.Argument(help="The run's id.")]
Wait = Annotated[
    float,
    typer.Option(min=0, max=30, help="Seconds to wait for the worker's ack."),
]
BODIES: dict[str, Any] = {
    "pause": Pause,
    "resume": Resume,
    "stop": Stop,
    "emergency_halt": EmergencyHalt,
    "rollback": Rollback,
    "seed_enable": SeedEnable,
    "seed_disable": SeedDisable,
    "profile": Profile,
}


def send(
    session: Session,
    run_id: str,
    wait: float,
    columns: list[str] = COMMAND_COLUMNS,
    **body: Any,
) -> None:
    """Issue the command; show it; fail (exit 1) if the worker rejected it."""
    model = BODIES[body["type"]].from_dict(
        {k: v for k, v in body.items() if v is not None}
    )
    response = create_command.sync_detailed(
        run_id, client=session.sdk, body=model, wait=wait
    )
    command: dict[str, Any] = ok(response).to_dict()
    session.show(command, columns)
    if command["state"] in ("rejected", "expired"):
        raise CliFailure(
            f"command {command['state']}: {command.get('reason')}", ExitCode.FAILED
        )


def register_commands(app: typer.Typer) -> None:
    @client_command(app, "pause")
    def pause(session: Session, run_id: RunId, wait: Wait = 10) -> None:
        """Hold the run at the next step boundary."""
        send(session, run_id, wait, type="pause")

    @client_command(app, "resume")
    def resume(session: Session, run_id: RunId, wait: Wait = 10) -> None:
        """Continue a paused run."""
        send(session, run_id, wait, type="resume")

    @client_command(app, "stop")
    def stop(session: Session, run_id: RunId, wait: Wait = 10) -> None:
        """Finish cleanly at the next step boundary (state cancelled)."""
        send(session, run_id, wait, type="stop")

    @client_command(app, "halt")
    def halt(
        session: Session,
        run_id: RunId,
        reason: Annotated[str, typer.Option(help="Why.")] = "esper runs halt",
        wait: Wait = 10,
    ) -> None:
        """Emergency halt: no more optimizer updates, checkpoint, halted."""
        send(session, run_id, wait, type="emergency_halt", reason=reason)

    @client_command(app, "rollback")
    def rollback(
        session: Session,
        run_id: RunId,
        checkpoint: Annotated[
            str | None, typer.Option(help="Checkpoint id (default: last good).")
        ] = None,
        wait: Wait = 10,
    ) -> None:
        """Restore model, optimizer and seeds from a checkpoint."""
        send(session, run_id, wait, type="rollback", checkpoint_id=checkpoint)

    @client_command(app, "seed-enable")
    def seed_enable(
        session: Session,
        run_id: RunId,
        slot: Annotated[str, typer.Option(help="Injection point.")],
        blueprint: Annotated[str, typer.Option(help="Blueprint name.")],
        wait: Wait = 10,
    ) -> None:
        """Germinate a seed now, overriding the policy."""
        send(session, run_id, wait, type="seed_enable", slot=slot, blueprint=blueprint)

    @client_command(app, "seed-disable")
    def seed_disable(
        session: Session,
        run_id: RunId,
        seed_id: Annotated[str, typer.Argument(help="The seed to cull.")],
        wait: Wait = 10,
    ) -> None:
        """Cull a seed."""
        send(session, run_id, wait, type="seed_disable", seed_id=seed_id)

    @client_command(app, "profile")
    def profile(
        session: Session,
        run_id: RunId,
        steps: Annotated[
            int, typer.Option(min=1, max=500, help="Training steps to record.")
        ] = 20,
        wait: Wait = 10,
    ) -> None:
        """Record torch.profiler over the next steps; the Chrome trace becomes
        a run artifact (`esper runs artifacts ID`, then `download`)."""
        # The result names the trace's artifact and the steps it covers.
        columns = [*COMMAND_COLUMNS, "result"]
        send(session, run_id, wait, columns, type="profile", steps=steps)
