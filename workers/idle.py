"""Broadcast commands that reach a worker holding no run."""

import logging

from api_schemas.bus import CommandAckEvent, SignedCommand
from api_schemas.enums import CommandState, CommandType
from workers import bus
from workers.commands import check_command
from workers.context import WorkerContext

log = logging.getLogger("esper.worker.commands")


class IdleCommands:
    """The reader's CommandHandler between runs: only broadcasts arrive here.

    registry_reset clears the nonce ledger (there is no blueprint cache without
    a run); an emergency halt has nothing to stop and says so.
    """

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    def check(self, command: SignedCommand) -> None:
        s = self.ctx.settings
        check_command(
            command,
            s.keyring,
            self.ctx.ledger,
            run_id=None,
            max_age_s=s.command_max_age_s,
            max_skew_s=s.command_max_skew_s,
        )

    def deliver(self, command: SignedCommand) -> None:
        if command.type == CommandType.registry_reset:
            cleared = len(self.ctx.ledger)
            self.ctx.ledger.clear()
            self.ctx.ledger.remember(command.nonce)
            self._ack(
                command.id,
                CommandState.applied,
                None,
                {"nonces_cleared": cleared, "idle": True},
            )
        elif command.type == CommandType.emergency_halt:
            self._ack(command.id, CommandState.applied, None, {"idle": True})
        else:
            self._ack(command.id, CommandState.rejected, "no_run", {"idle": True})

    def reject(self, command_id: str, reason: str, message: str) -> None:
        self._ack(command_id, CommandState.rejected, reason, {"message": message})

    def tick(self) -> None:
        return None

    def _ack(
        self,
        command_id: str,
        state: CommandState,
        reason: str | None,
        result: dict[str, object],
    ) -> None:
        bus.publish_event(
            self.ctx.client,
            CommandAckEvent(
                command_id=command_id,
                run_id=None,
                worker_id=self.ctx.worker_id,
                state=state,
                reason=reason,
                result=result,
            ),
        )
