from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.seed_outcome import SeedOutcome
from ..models.seed_stage import SeedStage
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.seed_gate import SeedGate
  from ..models.seed_stage_entry import SeedStageEntry





T = TypeVar("T", bound="SeedRead")



@_attrs_define
class SeedRead:
    """ A seed the run germinated, live or ended, with its lineage.

        Attributes:
            seed_id (str): Seed id, unique within the run.
            slot (str): Slot it was planted in.
            blueprint (str): Blueprint name.
            stage (SeedStage): Kasmina's twelve seed lifecycle stages (DOMAIN.md, Esper's Leyline).

                UNKNOWN is a slot's state before it is registered; TERMINATED is final when
                the run ends or the slot is torn down. The other ten follow DOMAIN.md.
            germinated_step (int): Optimizer step of germination.
            outcome (SeedOutcome): How a seed's life ended, or that it has not (API.md, Seed).
            alpha (float | Unset): Latest blend alpha. Default: 0.0.
            params (int | Unset): Trainable parameters. Default: 0.
            ended_step (int | None | Unset): Step it was fossilised or culled; null while live.
            reason (None | str | Unset): Last change's reason.
            history (list[SeedStageEntry] | Unset): Every stage entered, oldest first.
            gates (list[SeedGate] | Unset): Gate verdicts, oldest first: each pass that moved the seed on, and each failure
                (G1's routine passes are not recorded).
     """

    seed_id: str
    slot: str
    blueprint: str
    stage: SeedStage
    germinated_step: int
    outcome: SeedOutcome
    alpha: float | Unset = 0.0
    params: int | Unset = 0
    ended_step: int | None | Unset = UNSET
    reason: None | str | Unset = UNSET
    history: list[SeedStageEntry] | Unset = UNSET
    gates: list[SeedGate] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.seed_gate import SeedGate # noqa: PLC0415
        from ..models.seed_stage_entry import SeedStageEntry # noqa: PLC0415
        seed_id = self.seed_id

        slot = self.slot

        blueprint = self.blueprint

        stage = self.stage.value

        germinated_step = self.germinated_step

        outcome = self.outcome.value

        alpha = self.alpha

        params = self.params

        ended_step: int | None | Unset
        if isinstance(self.ended_step, Unset):
            ended_step = UNSET
        else:
            ended_step = self.ended_step

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        history: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.history, Unset):
            history = []
            for history_item_data in self.history:
                history_item = history_item_data.to_dict()
                history.append(history_item)



        gates: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.gates, Unset):
            gates = []
            for gates_item_data in self.gates:
                gates_item = gates_item_data.to_dict()
                gates.append(gates_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "seed_id": seed_id,
            "slot": slot,
            "blueprint": blueprint,
            "stage": stage,
            "germinated_step": germinated_step,
            "outcome": outcome,
        })
        if alpha is not UNSET:
            field_dict["alpha"] = alpha
        if params is not UNSET:
            field_dict["params"] = params
        if ended_step is not UNSET:
            field_dict["ended_step"] = ended_step
        if reason is not UNSET:
            field_dict["reason"] = reason
        if history is not UNSET:
            field_dict["history"] = history
        if gates is not UNSET:
            field_dict["gates"] = gates

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.seed_gate import SeedGate # noqa: PLC0415
        from ..models.seed_stage_entry import SeedStageEntry # noqa: PLC0415
        d = dict(src_dict)
        seed_id = d.pop("seed_id")

        slot = d.pop("slot")

        blueprint = d.pop("blueprint")

        stage = SeedStage(d.pop("stage"))




        germinated_step = d.pop("germinated_step")

        outcome = SeedOutcome(d.pop("outcome"))




        alpha = d.pop("alpha", UNSET)

        params = d.pop("params", UNSET)

        def _parse_ended_step(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ended_step = _parse_ended_step(d.pop("ended_step", UNSET))


        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))


        _history = d.pop("history", UNSET)
        history: list[SeedStageEntry] | Unset = UNSET
        if _history is not UNSET:
            history = []
            for history_item_data in _history:
                history_item = SeedStageEntry.from_dict(history_item_data)



                history.append(history_item)


        _gates = d.pop("gates", UNSET)
        gates: list[SeedGate] | Unset = UNSET
        if _gates is not UNSET:
            gates = []
            for gates_item_data in _gates:
                gates_item = SeedGate.from_dict(gates_item_data)



                gates.append(gates_item)


        seed_read = cls(
            seed_id=seed_id,
            slot=slot,
            blueprint=blueprint,
            stage=stage,
            germinated_step=germinated_step,
            outcome=outcome,
            alpha=alpha,
            params=params,
            ended_step=ended_step,
            reason=reason,
            history=history,
            gates=gates,
        )


        seed_read.additional_properties = d
        return seed_read

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
