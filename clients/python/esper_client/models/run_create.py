from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.restart_policy import RestartPolicy
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.model_options import ModelOptions
  from ..models.morphogenesis import Morphogenesis
  from ..models.resume_from import ResumeFrom
  from ..models.run_create_labels import RunCreateLabels





T = TypeVar("T", bound="RunCreate")



@_attrs_define
class RunCreate:
    """ The RunSpec: what to train and how (POST /api/v1/runs).

        Attributes:
            task (str): A registered task (`digits`, `spirals`, `synthetic-images`) or `package.module:factory`.
            name (None | str | Unset): Display name.
            model (ModelOptions | Unset): Host architecture options; each task documents which it reads.
            epochs (int | Unset): Epochs to train. Default: 5.
            batch_size (int | Unset): Batch size. Default: 64.
            micro_batches (int | Unset): Micro-batches per optimizer step. Default: 1.
            learning_rate (float | Unset): Learning rate. Default: 0.01.
            seed (int | Unset): RNG seed. Default: 0.
            device (str | Unset): `auto`|`cpu`|`cuda`|`cuda:N`. Default: 'auto'.
            devices (int | list[int] | None | Unset): Several devices for one run: a count (1-16) or a list of distinct GPU
                ids. On CPU, a count of gloo ranks on one worker's cores. 422 `devices_unavailable` when no registered worker
                has that many.
            morphogenesis (Morphogenesis | Unset): How (and whether) Tamiyo grows the host during the run.
            checkpoint_every (int | Unset): Checkpoint every N steps (0: each epoch). Default: 0.
            checkpoint_keep (int | Unset): Checkpoints kept in the artifact store: the newest N, plus the best by validation
                accuracy and the newest good one. Default: 3.
            max_steps (int | None | Unset): Stop after this many optimizer steps.
            restart_policy (RestartPolicy | Unset):
            max_restarts (int | Unset): With `restart_policy: resume`, how many times the run may resume after losing its
                worker before it fails. Default: 3.
            resume_from (None | ResumeFrom | Unset): Start from another run's checkpoint (continue or fork): its model,
                seeds and optimizer state, with this spec's epochs, learning rate and labels; steps count from 0.
            labels (RunCreateLabels | Unset): Free labels for filtering.
     """

    task: str
    name: None | str | Unset = UNSET
    model: ModelOptions | Unset = UNSET
    epochs: int | Unset = 5
    batch_size: int | Unset = 64
    micro_batches: int | Unset = 1
    learning_rate: float | Unset = 0.01
    seed: int | Unset = 0
    device: str | Unset = 'auto'
    devices: int | list[int] | None | Unset = UNSET
    morphogenesis: Morphogenesis | Unset = UNSET
    checkpoint_every: int | Unset = 0
    checkpoint_keep: int | Unset = 3
    max_steps: int | None | Unset = UNSET
    restart_policy: RestartPolicy | Unset = UNSET
    max_restarts: int | Unset = 3
    resume_from: None | ResumeFrom | Unset = UNSET
    labels: RunCreateLabels | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.model_options import ModelOptions # noqa: PLC0415
        from ..models.morphogenesis import Morphogenesis # noqa: PLC0415
        from ..models.resume_from import ResumeFrom # noqa: PLC0415
        from ..models.run_create_labels import RunCreateLabels # noqa: PLC0415
        task = self.task

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        model: dict[str, Any] | Unset = UNSET
        if not isinstance(self.model, Unset):
            model = self.model.to_dict()

        epochs = self.epochs

        batch_size = self.batch_size

        micro_batches = self.micro_batches

        learning_rate = self.learning_rate

        seed = self.seed

        device = self.device

        devices: int | list[int] | None | Unset
        if isinstance(self.devices, Unset):
            devices = UNSET
        elif isinstance(self.devices, list):
            devices = self.devices


        else:
            devices = self.devices

        morphogenesis: dict[str, Any] | Unset = UNSET
        if not isinstance(self.morphogenesis, Unset):
            morphogenesis = self.morphogenesis.to_dict()

        checkpoint_every = self.checkpoint_every

        checkpoint_keep = self.checkpoint_keep

        max_steps: int | None | Unset
        if isinstance(self.max_steps, Unset):
            max_steps = UNSET
        else:
            max_steps = self.max_steps

        restart_policy: str | Unset = UNSET
        if not isinstance(self.restart_policy, Unset):
            restart_policy = self.restart_policy.value


        max_restarts = self.max_restarts

        resume_from: dict[str, Any] | None | Unset
        if isinstance(self.resume_from, Unset):
            resume_from = UNSET
        elif isinstance(self.resume_from, ResumeFrom):
            resume_from = self.resume_from.to_dict()
        else:
            resume_from = self.resume_from

        labels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.labels, Unset):
            labels = self.labels.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "task": task,
        })
        if name is not UNSET:
            field_dict["name"] = name
        if model is not UNSET:
            field_dict["model"] = model
        if epochs is not UNSET:
            field_dict["epochs"] = epochs
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size
        if micro_batches is not UNSET:
            field_dict["micro_batches"] = micro_batches
        if learning_rate is not UNSET:
            field_dict["learning_rate"] = learning_rate
        if seed is not UNSET:
            field_dict["seed"] = seed
        if device is not UNSET:
            field_dict["device"] = device
        if devices is not UNSET:
            field_dict["devices"] = devices
        if morphogenesis is not UNSET:
            field_dict["morphogenesis"] = morphogenesis
        if checkpoint_every is not UNSET:
            field_dict["checkpoint_every"] = checkpoint_every
        if checkpoint_keep is not UNSET:
            field_dict["checkpoint_keep"] = checkpoint_keep
        if max_steps is not UNSET:
            field_dict["max_steps"] = max_steps
        if restart_policy is not UNSET:
            field_dict["restart_policy"] = restart_policy
        if max_restarts is not UNSET:
            field_dict["max_restarts"] = max_restarts
        if resume_from is not UNSET:
            field_dict["resume_from"] = resume_from
        if labels is not UNSET:
            field_dict["labels"] = labels

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_options import ModelOptions # noqa: PLC0415
        from ..models.morphogenesis import Morphogenesis # noqa: PLC0415
        from ..models.resume_from import ResumeFrom # noqa: PLC0415
        from ..models.run_create_labels import RunCreateLabels # noqa: PLC0415
        d = dict(src_dict)
        task = d.pop("task")

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        _model = d.pop("model", UNSET)
        model: ModelOptions | Unset
        if isinstance(_model,  Unset):
            model = UNSET
        else:
            model = ModelOptions.from_dict(_model)




        epochs = d.pop("epochs", UNSET)

        batch_size = d.pop("batch_size", UNSET)

        micro_batches = d.pop("micro_batches", UNSET)

        learning_rate = d.pop("learning_rate", UNSET)

        seed = d.pop("seed", UNSET)

        device = d.pop("device", UNSET)

        def _parse_devices(data: object) -> int | list[int] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                devices_type_1 = cast(list[int], data)

                return devices_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | list[int] | None | Unset, data)

        devices = _parse_devices(d.pop("devices", UNSET))


        _morphogenesis = d.pop("morphogenesis", UNSET)
        morphogenesis: Morphogenesis | Unset
        if isinstance(_morphogenesis,  Unset):
            morphogenesis = UNSET
        else:
            morphogenesis = Morphogenesis.from_dict(_morphogenesis)




        checkpoint_every = d.pop("checkpoint_every", UNSET)

        checkpoint_keep = d.pop("checkpoint_keep", UNSET)

        def _parse_max_steps(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_steps = _parse_max_steps(d.pop("max_steps", UNSET))


        _restart_policy = d.pop("restart_policy", UNSET)
        restart_policy: RestartPolicy | Unset
        if isinstance(_restart_policy,  Unset):
            restart_policy = UNSET
        else:
            restart_policy = RestartPolicy(_restart_policy)




        max_restarts = d.pop("max_restarts", UNSET)

        def _parse_resume_from(data: object) -> None | ResumeFrom | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                resume_from_type_0 = ResumeFrom.from_dict(data)



                return resume_from_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ResumeFrom | Unset, data)

        resume_from = _parse_resume_from(d.pop("resume_from", UNSET))


        _labels = d.pop("labels", UNSET)
        labels: RunCreateLabels | Unset
        if isinstance(_labels,  Unset):
            labels = UNSET
        else:
            labels = RunCreateLabels.from_dict(_labels)




        run_create = cls(
            task=task,
            name=name,
            model=model,
            epochs=epochs,
            batch_size=batch_size,
            micro_batches=micro_batches,
            learning_rate=learning_rate,
            seed=seed,
            device=device,
            devices=devices,
            morphogenesis=morphogenesis,
            checkpoint_every=checkpoint_every,
            checkpoint_keep=checkpoint_keep,
            max_steps=max_steps,
            restart_policy=restart_policy,
            max_restarts=max_restarts,
            resume_from=resume_from,
            labels=labels,
        )

        return run_create

