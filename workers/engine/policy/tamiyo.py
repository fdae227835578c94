"""Tamiyo as the trainer sees it: gather inputs, decide under the deadline,
review by the risk engine, act through the seed manager, log everything."""

from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from torch import Tensor

from api_schemas.catalogue import BLUEPRINTS
from api_schemas.runs import Morphogenesis
from workers.engine.policy.base import Decision, PolicyInputs, SlotState
from workers.engine.policy.deadline import DeadlineRunner
from workers.engine.policy.field_report import FieldReportLog
from workers.engine.policy.loader import load_policy
from workers.engine.policy.risk import RiskEngine
from workers.engine.seeds.gates import GateResult
from workers.engine.seeds.manager import SeedManager
from workers.engine.telemetry import Telemetry

# Takes a reviewed decision off Tamiyo to be carried out later (see `Tamiyo`):
# (step, inputs, proposed, reviewed).
Defer = Callable[[int, PolicyInputs, Decision, Decision], None]


def execute(manager: SeedManager, decision: Decision) -> GateResult | None:
    """Germinate or cull as a reviewed decision says (the G0 result, if any)."""
    if decision.action == "germinate" and decision.slot and decision.blueprint:
        return manager.germinate(
            decision.slot, decision.blueprint, reason=decision.reason
        )
    if decision.action == "cull" and decision.seed_id:
        slot = manager.find(decision.seed_id)
        if slot is not None:
            manager.cull(slot, f"policy: {decision.reason}")
    return None


class Tamiyo:
    """With `defer`, a reviewed decision that changes something is handed to it
    instead of carried out: over several ranks, rank 0's trainer broadcasts it
    and every rank carries it out (`carry_out`) at the same step."""

    def __init__(
        self,
        spec: Morphogenesis,
        manager: SeedManager,
        telemetry: Telemetry,
        report_path: Path,
        every: int = 10,
        plateau_calls: int = 5,
        *,
        defer: Defer | None = None,
        total_steps: int | None = None,
    ) -> None:
        self.spec = spec
        self.defer = defer
        self.manager = manager
        self.tm = telemetry
        self.every = every
        self.total_steps = total_steps
        self.runner = DeadlineRunner(
            load_policy(spec.policy, dict(spec.policy_options)),
            spec.decision_deadline_ms,
        )
        self.risk = RiskEngine()
        self.reports = FieldReportLog(report_path)
        self._ewmas: deque[float] = deque(maxlen=plateau_calls + 1)
        self._trend: float | None = None
        self.decisions = 0

    def blueprint_names(self) -> list[str]:
        allowed = self.spec.blueprints
        return [b.name for b in BLUEPRINTS if allowed is None or b.name in allowed]

    def _inputs(
        self,
        step: int,
        epoch: int,
        loss: float | None,
        ewma: float | None,
        extra: dict[str, float | None],
    ) -> PolicyInputs:
        slots = [
            SlotState(
                s.name,
                s.kind,
                s.stage.value,
                self.manager.slot_free(s) and not self.manager.embargoed(s),
                s.info.params if s.info and s.seed is not None else 0,
                s.info.seed_id if s.info else None,
            )
            for s in self.manager.slots.values()
            if self.spec.slots is None or s.name in self.spec.slots
        ]
        blueprints = [
            {
                "name": b.name,
                "risk": b.risk,
                "slot_kinds": b.slot_kinds,
                "params_estimate": b.params_estimate,
            }
            for b in BLUEPRINTS
            if b.name in self.blueprint_names()
        ]
        return PolicyInputs(
            step=step,
            epoch=epoch,
            loss=loss,
            loss_ewma=ewma,
            loss_trend=self._trend,
            accuracy=extra.get("accuracy"),
            val_accuracy=extra.get("val_accuracy"),
            val_loss=extra.get("val_loss"),
            grad_norm=extra.get("grad_norm"),
            step_ms=extra.get("step_ms"),
            slots=slots,
            blueprints=blueprints,
            seeds_germinated=self.manager.counts["germinated"],
            max_seeds=self.spec.max_seeds,
            live_seeds=self.manager.live_count(),
            conservative=self.risk.conservative(step),
            total_steps=self.total_steps,
            blueprint_record={
                name: dict(outcomes)
                for name, outcomes in self.manager.outcomes_of("blueprint").items()
            },
            slot_failures={
                name: outcomes["culled"]
                for name, outcomes in self.manager.outcomes_of("slot").items()
            },
        )

    def after_step(
        self,
        step: int,
        epoch: int,
        loss: float | Tensor,
        ewma: float | None,
        latest: Mapping[str, float | None],
        step_ms: float,
    ) -> Decision | None:
        """The trainer's call after each step, with its latest figures. With
        deferred reads `loss` is a device tensor: the newest loss read back
        (at most `sync_every` steps old) stands in, so the policy never syncs."""
        return self.step(
            step,
            epoch,
            loss if isinstance(loss, float) else latest["loss"],
            ewma,
            {
                "accuracy": latest["accuracy"],
                "val_accuracy": latest["val_accuracy"],
                "val_loss": latest["val_loss"],
                "step_ms": step_ms,
            },
        )

    def step(
        self,
        step: int,
        epoch: int,
        loss: float | None,
        ewma: float | None,
        extra: dict[str, float | None],
    ) -> Decision | None:
        """Collect a finished decision, or ask for a new one every `every`
        steps. Never waits for the policy (see DeadlineRunner)."""
        on_cadence = step % self.every == 0
        if on_cadence:
            self._observe(step, loss, ewma)
        if self.runner.busy:
            decision, timed_out = self.runner.poll()
            if timed_out:
                self._on_timeout(step)
            if decision is None:
                return None
            self.tm.metric("tamiyo.inference.latency_ms", self.runner.last_latency_ms)
            return self._act(step, self.runner.context, decision)
        if not on_cadence:
            return None
        inputs = self._inputs(step, epoch, loss, ewma, extra)
        self.runner.submit(inputs, context=inputs)
        return None

    def _observe(self, step: int, loss: float | None, ewma: float | None) -> None:
        """The loss trend, the risk engine and field reports watch every
        `every` steps, whether or not a decision is still in flight: a slow
        policy must not stretch the plateau window (which would make growth
        depend on how busy the machine is)."""
        self.reports.observe(step, ewma)
        blocked = self.risk.observe(step, loss, ewma, self.manager.monitor.violations)
        if blocked == "loss spike":
            self.tm.event("tamiyo.conservative_entered", "warning", {"reason": blocked})
        self._trend = None
        if ewma is not None and len(self._ewmas) == self._ewmas.maxlen:
            self._trend = (ewma - self._ewmas[0]) / max(abs(self._ewmas[0]), 1e-12)
        if ewma is not None:
            self._ewmas.append(ewma)

    def _on_timeout(self, step: int) -> None:
        self.tm.count("tolaria.timeout.tamiyo_total")
        self.tm.event(
            "tolaria.tamiyo_timeout",
            "warning",
            {
                "deadline_ms": self.spec.decision_deadline_ms,
                "latency_ms": self.runner.last_latency_ms,
            },
        )
        if self.risk.enter_conservative(step):
            self.tm.event(
                "tamiyo.conservative_entered", "warning", {"reason": "policy timeout"}
            )
        self.tm.metric("tamiyo.conservative_mode", 1.0)

    def _act(self, step: int, inputs: PolicyInputs, proposed: Decision) -> Decision:
        decision = self.risk.review(step, proposed)
        if self.defer is None or decision.action == "wait":
            # A wait changes nothing on any rank: logged now, never deferred.
            return self.carry_out(step, inputs, proposed, decision)
        self.defer(step, inputs, proposed, decision)
        return decision

    def carry_out(
        self, step: int, inputs: PolicyInputs, proposed: Decision, decision: Decision
    ) -> Decision:
        """Act on a reviewed decision and log it (split from `_act` so the
        distributed trainer can broadcast the reviewed decision first)."""
        self.decisions += 1
        result = execute(self.manager, decision)
        attrs = {
            "action": decision.action,
            "slot": decision.slot,
            "blueprint": decision.blueprint,
            "seed_id": decision.seed_id,
            "reason": decision.reason,
            "proposed": proposed.action,
            "inputs": inputs.summary(),
            "gate": None if result is None else result.reason,
            "figures": dict(decision.figures),  # e.g. the learned policy's p
        }
        self.tm.event("tamiyo.decision", "info", attrs, value=decision.action)
        if decision.action != "wait":
            self.reports.track(step, attrs, inputs.summary(), inputs.loss_ewma)
        return decision

    def prefetch(self) -> None:
        names = [
            n
            for n in self.blueprint_names()
            if self.manager.is_allowed(n, forced=False)
        ]
        self.manager.prefetch(names)

    def close(self, step: int, ewma: float | None) -> None:
        self.reports.observe(step, ewma, final=True)
        self.runner.close()
