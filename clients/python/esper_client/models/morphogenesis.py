from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.blend_mode import BlendMode
from ..models.gradient_aggregation import GradientAggregation
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.morphogenesis_gates import MorphogenesisGates
  from ..models.morphogenesis_policy_options import MorphogenesisPolicyOptions





T = TypeVar("T", bound="Morphogenesis")



@_attrs_define
class Morphogenesis:
    """ How (and whether) Tamiyo grows the host during the run.

        Attributes:
            enabled (bool | Unset): Let the policy germinate seeds. Default: True.
            policy (str | Unset): `heuristic` or an import path `package.module:factory`. Default: 'heuristic'.
            max_seeds (int | Unset): Most seeds germinated over the run. Default: 4.
            blueprints (list[str] | None | Unset): Blueprints the policy may use (null: every non-quarantined one).
            slots (list[str] | None | Unset): Slots it may use (null: all).
            blend_mode (BlendMode | Unset):
            blend_steps (int | Unset): Optimizer steps of the alpha ramp. Default: 20.
            gates (MorphogenesisGates | Unset): Overrides of gate thresholds (see DOMAIN.md / docs).
            decision_deadline_ms (float | Unset): Tamiyo's decision deadline. Default: 5.0.
            gradient_aggregation (GradientAggregation | Unset): How the gradients of several blended seeds' paths into the
                host combine.
            policy_options (MorphogenesisPolicyOptions | Unset): Options of the policy: for `heuristic` the fields of
                HeuristicOptions (docs/engine.md); a plug-in's factory takes them as keyword arguments.
     """

    enabled: bool | Unset = True
    policy: str | Unset = 'heuristic'
    max_seeds: int | Unset = 4
    blueprints: list[str] | None | Unset = UNSET
    slots: list[str] | None | Unset = UNSET
    blend_mode: BlendMode | Unset = UNSET
    blend_steps: int | Unset = 20
    gates: MorphogenesisGates | Unset = UNSET
    decision_deadline_ms: float | Unset = 5.0
    gradient_aggregation: GradientAggregation | Unset = UNSET
    policy_options: MorphogenesisPolicyOptions | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.morphogenesis_gates import MorphogenesisGates # noqa: PLC0415
        from ..models.morphogenesis_policy_options import MorphogenesisPolicyOptions # noqa: PLC0415
        enabled = self.enabled

        policy = self.policy

        max_seeds = self.max_seeds

        blueprints: list[str] | None | Unset
        if isinstance(self.blueprints, Unset):
            blueprints = UNSET
        elif isinstance(self.blueprints, list):
            blueprints = self.blueprints


        else:
            blueprints = self.blueprints

        slots: list[str] | None | Unset
        if isinstance(self.slots, Unset):
            slots = UNSET
        elif isinstance(self.slots, list):
            slots = self.slots


        else:
            slots = self.slots

        blend_mode: str | Unset = UNSET
        if not isinstance(self.blend_mode, Unset):
            blend_mode = self.blend_mode.value


        blend_steps = self.blend_steps

        gates: dict[str, Any] | Unset = UNSET
        if not isinstance(self.gates, Unset):
            gates = self.gates.to_dict()

        decision_deadline_ms = self.decision_deadline_ms

        gradient_aggregation: str | Unset = UNSET
        if not isinstance(self.gradient_aggregation, Unset):
            gradient_aggregation = self.gradient_aggregation.value


        policy_options: dict[str, Any] | Unset = UNSET
        if not isinstance(self.policy_options, Unset):
            policy_options = self.policy_options.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if policy is not UNSET:
            field_dict["policy"] = policy
        if max_seeds is not UNSET:
            field_dict["max_seeds"] = max_seeds
        if blueprints is not UNSET:
            field_dict["blueprints"] = blueprints
        if slots is not UNSET:
            field_dict["slots"] = slots
        if blend_mode is not UNSET:
            field_dict["blend_mode"] = blend_mode
        if blend_steps is not UNSET:
            field_dict["blend_steps"] = blend_steps
        if gates is not UNSET:
            field_dict["gates"] = gates
        if decision_deadline_ms is not UNSET:
            field_dict["decision_deadline_ms"] = decision_deadline_ms
        if gradient_aggregation is not UNSET:
            field_dict["gradient_aggregation"] = gradient_aggregation
        if policy_options is not UNSET:
            field_dict["policy_options"] = policy_options

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.morphogenesis_gates import MorphogenesisGates # noqa: PLC0415
        from ..models.morphogenesis_policy_options import MorphogenesisPolicyOptions # noqa: PLC0415
        d = dict(src_dict)
        enabled = d.pop("enabled", UNSET)

        policy = d.pop("policy", UNSET)

        max_seeds = d.pop("max_seeds", UNSET)

        def _parse_blueprints(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                blueprints_type_0 = cast(list[str], data)

                return blueprints_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        blueprints = _parse_blueprints(d.pop("blueprints", UNSET))


        def _parse_slots(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                slots_type_0 = cast(list[str], data)

                return slots_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        slots = _parse_slots(d.pop("slots", UNSET))


        _blend_mode = d.pop("blend_mode", UNSET)
        blend_mode: BlendMode | Unset
        if isinstance(_blend_mode,  Unset):
            blend_mode = UNSET
        else:
            blend_mode = BlendMode(_blend_mode)




        blend_steps = d.pop("blend_steps", UNSET)

        _gates = d.pop("gates", UNSET)
        gates: MorphogenesisGates | Unset
        if isinstance(_gates,  Unset):
            gates = UNSET
        else:
            gates = MorphogenesisGates.from_dict(_gates)




        decision_deadline_ms = d.pop("decision_deadline_ms", UNSET)

        _gradient_aggregation = d.pop("gradient_aggregation", UNSET)
        gradient_aggregation: GradientAggregation | Unset
        if isinstance(_gradient_aggregation,  Unset):
            gradient_aggregation = UNSET
        else:
            gradient_aggregation = GradientAggregation(_gradient_aggregation)




        _policy_options = d.pop("policy_options", UNSET)
        policy_options: MorphogenesisPolicyOptions | Unset
        if isinstance(_policy_options,  Unset):
            policy_options = UNSET
        else:
            policy_options = MorphogenesisPolicyOptions.from_dict(_policy_options)




        morphogenesis = cls(
            enabled=enabled,
            policy=policy,
            max_seeds=max_seeds,
            blueprints=blueprints,
            slots=slots,
            blend_mode=blend_mode,
            blend_steps=blend_steps,
            gates=gates,
            decision_deadline_ms=decision_deadline_ms,
            gradient_aggregation=gradient_aggregation,
            policy_options=policy_options,
        )

        return morphogenesis

