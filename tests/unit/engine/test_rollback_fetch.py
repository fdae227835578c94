"""A rollback to a checkpoint the worker no longer has on disk asks its
`fetch_checkpoint` hook (the worker fetches it from the artifact store), and
each checkpoint carries the validation accuracy retention ranks it by."""

import shutil
from pathlib import Path

from tests.unit.engine.helpers import Script, run, spec
from workers.engine.hooks import CheckpointInfo
from workers.engine.options import EngineOptions


def test_a_rollback_to_a_locally_pruned_checkpoint_fetches_it(tmp_path: Path) -> None:
    remote = tmp_path / "store"  # stands in for the artifact store
    asked: list[str | None] = []

    def keep(info: CheckpointInfo) -> None:
        shutil.copytree(info.path, remote / Path(info.path).name)
        checkpoints.append(info)

    def fetch(target: str | None) -> str | None:
        asked.append(target)
        source = remote / str(target)
        if not source.is_dir():
            return None
        local = tmp_path / "ckpt" / str(target)
        shutil.copytree(source, local)
        return str(local)

    checkpoints: list[CheckpointInfo] = []
    script = Script()
    script.hooks.on_checkpoint = keep
    script.hooks.fetch_checkpoint = fetch
    wanted = script.at(30, "rollback", checkpoint_id="ckpt-000000010")
    missing = script.at(32, "rollback", checkpoint_id="ckpt-000000011")
    run(
        script,
        spec(epochs=2, checkpoint_every=5),
        tmp_path,
        options=EngineOptions(keep_checkpoints=1),
    )
    state, reason, result = script.ack_for(wanted)
    assert state == "applied", reason
    assert result["source"] == "disk" and result["restored_step"] == 10
    assert script.ack_for(missing)[0] == "rejected"
    assert asked == ["ckpt-000000010", "ckpt-000000011"]
    after_epoch = [c for c in checkpoints if c.epoch >= 1]
    assert checkpoints[0].val_accuracy is None  # no validation yet
    assert after_epoch and all(c.val_accuracy is not None for c in after_epoch)
