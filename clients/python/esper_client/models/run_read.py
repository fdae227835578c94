from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.run_state import RunState
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.run_create import RunCreate
  from ..models.run_metrics import RunMetrics
  from ..models.run_read_result import RunReadResult
  from ..models.run_read_seeds import RunReadSeeds





T = TypeVar("T", bound="RunRead")



@_attrs_define
class RunRead:
    """ A run as the API shows it.

        Attributes:
            id (str): Run id (UUID).
            state (RunState): Lifecycle of a run: queued -> assigned -> running <-> paused -> terminal.
            spec (RunCreate): The RunSpec: what to train and how (POST /api/v1/runs).
            created_at (datetime.datetime): Submission time (UTC).
            name (None | str | Unset): Display name.
            worker_id (None | str | Unset): Worker holding the run.
            started_at (datetime.datetime | None | Unset): Start of training.
            finished_at (datetime.datetime | None | Unset): Terminal time.
            epoch (int | Unset): Current epoch. Default: 0.
            step (int | Unset): Optimizer steps done. Default: 0.
            metrics (RunMetrics | Unset):
            seeds (RunReadSeeds | Unset): Seeds by stage.
            error (None | str | Unset): Why it failed.
            halt_reason (None | str | Unset): Why it was halted.
            result (RunReadResult | Unset): Final figures and flags.
            attempt (int | Unset): 1 for the first attempt, +1 each time the run resumes after losing its worker. Default:
                1.
            restarts (int | Unset): Times the run has resumed so far. Default: 0.
     """

    id: str
    state: RunState
    spec: RunCreate
    created_at: datetime.datetime
    name: None | str | Unset = UNSET
    worker_id: None | str | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    finished_at: datetime.datetime | None | Unset = UNSET
    epoch: int | Unset = 0
    step: int | Unset = 0
    metrics: RunMetrics | Unset = UNSET
    seeds: RunReadSeeds | Unset = UNSET
    error: None | str | Unset = UNSET
    halt_reason: None | str | Unset = UNSET
    result: RunReadResult | Unset = UNSET
    attempt: int | Unset = 1
    restarts: int | Unset = 0
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.run_create import RunCreate # noqa: PLC0415
        from ..models.run_metrics import RunMetrics # noqa: PLC0415
        from ..models.run_read_result import RunReadResult # noqa: PLC0415
        from ..models.run_read_seeds import RunReadSeeds # noqa: PLC0415
        id = self.id

        state = self.state.value

        spec = self.spec.to_dict()

        created_at = self.created_at.isoformat()

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        worker_id: None | str | Unset
        if isinstance(self.worker_id, Unset):
            worker_id = UNSET
        else:
            worker_id = self.worker_id

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        epoch = self.epoch

        step = self.step

        metrics: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metrics, Unset):
            metrics = self.metrics.to_dict()

        seeds: dict[str, Any] | Unset = UNSET
        if not isinstance(self.seeds, Unset):
            seeds = self.seeds.to_dict()

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        halt_reason: None | str | Unset
        if isinstance(self.halt_reason, Unset):
            halt_reason = UNSET
        else:
            halt_reason = self.halt_reason

        result: dict[str, Any] | Unset = UNSET
        if not isinstance(self.result, Unset):
            result = self.result.to_dict()

        attempt = self.attempt

        restarts = self.restarts


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "state": state,
            "spec": spec,
            "created_at": created_at,
        })
        if name is not UNSET:
            field_dict["name"] = name
        if worker_id is not UNSET:
            field_dict["worker_id"] = worker_id
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if epoch is not UNSET:
            field_dict["epoch"] = epoch
        if step is not UNSET:
            field_dict["step"] = step
        if metrics is not UNSET:
            field_dict["metrics"] = metrics
        if seeds is not UNSET:
            field_dict["seeds"] = seeds
        if error is not UNSET:
            field_dict["error"] = error
        if halt_reason is not UNSET:
            field_dict["halt_reason"] = halt_reason
        if result is not UNSET:
            field_dict["result"] = result
        if attempt is not UNSET:
            field_dict["attempt"] = attempt
        if restarts is not UNSET:
            field_dict["restarts"] = restarts

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.run_create import RunCreate # noqa: PLC0415
        from ..models.run_metrics import RunMetrics # noqa: PLC0415
        from ..models.run_read_result import RunReadResult # noqa: PLC0415
        from ..models.run_read_seeds import RunReadSeeds # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        state = RunState(d.pop("state"))




        spec = RunCreate.from_dict(d.pop("spec"))




        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        def _parse_worker_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        worker_id = _parse_worker_id(d.pop("worker_id", UNSET))


        def _parse_started_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)



                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))


        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)



                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))


        epoch = d.pop("epoch", UNSET)

        step = d.pop("step", UNSET)

        _metrics = d.pop("metrics", UNSET)
        metrics: RunMetrics | Unset
        if isinstance(_metrics,  Unset):
            metrics = UNSET
        else:
            metrics = RunMetrics.from_dict(_metrics)




        _seeds = d.pop("seeds", UNSET)
        seeds: RunReadSeeds | Unset
        if isinstance(_seeds,  Unset):
            seeds = UNSET
        else:
            seeds = RunReadSeeds.from_dict(_seeds)




        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        def _parse_halt_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        halt_reason = _parse_halt_reason(d.pop("halt_reason", UNSET))


        _result = d.pop("result", UNSET)
        result: RunReadResult | Unset
        if isinstance(_result,  Unset):
            result = UNSET
        else:
            result = RunReadResult.from_dict(_result)




        attempt = d.pop("attempt", UNSET)

        restarts = d.pop("restarts", UNSET)

        run_read = cls(
            id=id,
            state=state,
            spec=spec,
            created_at=created_at,
            name=name,
            worker_id=worker_id,
            started_at=started_at,
            finished_at=finished_at,
            epoch=epoch,
            step=step,
            metrics=metrics,
            seeds=seeds,
            error=error,
            halt_reason=halt_reason,
            result=result,
            attempt=attempt,
            restarts=restarts,
        )


        run_read.additional_properties = d
        return run_read

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
