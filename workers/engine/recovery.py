"""Tolaria's recovery: in-memory snapshots, checkpoints on disk, and rollback.

`Recovery` owns the fast rollback cache and the checkpoint writer; it reads the
run's parts and position (it is handed them) and writes them back only when it
restores. Checkpoints are written by one process of a run (`writer`); the
other ranks of a DDP run get the same checkpoint's id without writing.
"""

import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from api_schemas.runs import RunCreate
from workers.engine import checkpoints as ckpt
from workers.engine.build import Parts, new_optimizer
from workers.engine.emergency import EmergencyGuard, Level
from workers.engine.helper_threads import helper_pool
from workers.engine.hooks import CheckpointInfo, Hooks
from workers.engine.options import EngineOptions
from workers.engine.rollback import (
    BatchedCopies,
    FastRollbackCache,
    clone_state,
    host_copy,
    load_model_in_place,
    load_optimizer_in_place,
)
from workers.engine.runtime import as_tuple, describe
from workers.engine.state import TrainState
from workers.engine.telemetry import Telemetry


class Recovery:
    def __init__(
        self,
        parts: Parts,
        state: TrainState,
        *,
        spec: RunCreate,
        opt: EngineOptions,
        checkpoint_dir: Path,
        telemetry: Telemetry,
        hooks: Hooks,
        guard: EmergencyGuard,
        elapsed_ms: Callable[[float, str], float],
        writer: bool,
        val_accuracy: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.parts, self.state = parts, state
        self.spec, self.opt = spec, opt
        self.checkpoint_dir = checkpoint_dir
        self.tm, self.hooks = telemetry, hooks
        self.writer = writer
        self.guard = guard  # a slow rollback escalates; the loss EWMA is saved
        self.elapsed_ms = elapsed_ms  # the strategy's: every rank's same figure
        self.val_accuracy = val_accuracy  # carried by each checkpoint (retention)
        self.snapshots = FastRollbackCache(
            opt.rollback_cache_mb, opt.rollback_cache_snapshots
        )
        self.last_checkpoint: CheckpointInfo | None = None
        self._pool: ThreadPoolExecutor | None = None  # the one writer thread
        self._write: Future[CheckpointInfo] | None = None  # at most one in flight

    # ---- snapshots and rollback ---------------------------------------------

    def snapshot(self, good: bool) -> None:
        step = self.state.step
        self.snapshots.put(f"snap-{step}", step, self.state.epoch, self.core(), good)

    def rollback(self, target: str | None, reason: str) -> dict[str, Any]:
        """Restore the newest (good) snapshot or checkpoint, or `target`; timed
        against the rollback deadline, a slow one escalates the ladder.
        Raises LookupError when there is no such state."""
        started = time.perf_counter()
        result = self._restore_target(target)
        if self.parts.cuda:  # the copies are queued: time (and check) them done
            torch.cuda.synchronize(self.parts.device)
        elapsed = self.elapsed_ms(started, "rollback")
        result.update({"latency_ms": elapsed, "reason": reason})
        self.tm.metric("tolaria.rollback.restore_latency_ms", elapsed)
        self.tm.event("tolaria.rollback.restored", "warning", result)
        if elapsed > self.opt.rollback_deadline_ms:
            self.tm.count("tolaria.rollback.deadline_exceeded_total")
            why = f"rollback took {elapsed:.0f} ms"
            self.guard.failure(self.state.step, Level.CONSERVATIVE, why, restored=True)
        return result

    def _restore_target(self, target: str | None) -> dict[str, Any]:
        """Restore from the fast cache, else from disk; what was restored."""
        self.parts.optimizer.zero_grad(set_to_none=True)
        snapshot = self.snapshots.get(target)
        if snapshot is not None:
            self.restore(snapshot.state, full=False)
            return {
                "source": "memory",
                "checkpoint_id": snapshot.id,
                "restored_step": snapshot.step,
            }
        path = self._find_checkpoint(target)
        manifest = ckpt.read_manifest(path)
        self.restore(ckpt.load_checkpoint(path, self.parts.device), full=False)
        return {
            "source": "disk",
            "checkpoint_id": manifest["id"],
            "restored_step": manifest["step"],
        }

    def _find_checkpoint(self, target: str | None) -> Path:
        """On local disk, else fetched from the artifact store (local copies
        are pruned sooner than the store's)."""
        self.wait()  # one still being written counts
        found = ckpt.list_checkpoints(self.checkpoint_dir)
        if target is not None:
            matches = [m for m in found if target in (m["id"], str(m["step"]))]
        else:
            matches = [m for m in found if m.get("good")]
        if matches:
            return Path(matches[-1]["path"])
        fetched = self.hooks.fetch_checkpoint(target)
        if fetched is None:
            raise LookupError(f"no snapshot or checkpoint {target or '(last good)'}")
        return Path(fetched)

    # ---- the state saved and restored ---------------------------------------

    def core(self) -> dict[str, Any]:
        """What a snapshot holds: model, optimizer and the seed registry."""
        return {
            "model": self.parts.model.state_dict(),
            "optimizer": self.parts.optimizer.state_dict(),
            "seeds": self.parts.seeds.state(),
        }

    def full(self) -> dict[str, Any]:
        """What a checkpoint holds: the core plus the position and every RNG."""
        state = self.core()
        state.update(self.state.position())
        state.update(self.parts.data.state())
        state.update(
            {
                "torch_rng": torch.get_rng_state(),
                "py_rng": random.getstate(),
                "loss_ewma": self.guard.ladder.loss_ewma,
                # The ladder judges spikes against a floor from the run's first
                # loss: without it, a resumed run that has nearly fitted its
                # data would read ordinary noise as loss explosions.
                "loss_first": self.guard.ladder.first_loss,
                "spec": self.spec.model_dump(mode="json"),
            }
        )
        if self.parts.cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state(self.parts.device)
        return state

    def restore(self, saved: dict[str, Any], full: bool) -> None:
        parts = self.parts
        parts.seeds.load_state(saved["seeds"], seed=self.spec.seed)
        copies = BatchedCopies()
        if not load_model_in_place(parts.model, saved["model"], copies):
            parts.model.load_state_dict(saved["model"])
        if not load_optimizer_in_place(parts.optimizer, saved["optimizer"], copies):
            optimizer = new_optimizer(parts.model, parts.seeds, self.spec.learning_rate)
            # load_state_dict may alias the given tensors; clone so the snapshot
            # stays pristine for a later rollback.
            optimizer.load_state_dict(clone_state(saved["optimizer"]))
            parts.use_optimizer(optimizer)
        copies.run()
        parts.seeds.optimizer = parts.optimizer
        if full:
            self._restore_position(saved)

    def start_from(self, path: str, *, fork: bool) -> None:
        """Resume the run from its checkpoint (position, data order and RNG
        too), or fork: another run's model, seeds and optimizer state with this
        run's learning rate, counting steps from 0."""
        parts = self.parts
        self.restore(ckpt.load_checkpoint(path, parts.device), full=not fork)
        if fork:
            for group in parts.optimizer.param_groups:
                group["lr"] = self.spec.learning_rate
        self.tm.event("tolaria.resumed", "info", {"from": path, "fork": fork})

    def _restore_position(self, saved: dict[str, Any]) -> None:
        state = self.state
        state.step, state.epoch = int(saved["step"]), int(saved["epoch"])
        state.batch_in_epoch = int(saved["batch_in_epoch"])
        # A checkpoint written before compute accounting restarts the count.
        state.train_flops = int(saved.get("train_flops", 0))
        self.tm.step, self.tm.epoch = state.step, state.epoch
        self.parts.data.load_state(saved)
        torch.set_rng_state(saved["torch_rng"].cpu())
        random.setstate(as_tuple(saved["py_rng"]))
        self.guard.ladder.loss_ewma = saved.get("loss_ewma")
        self.guard.ladder.first_loss = saved.get("loss_first")
        if self.parts.cuda and "cuda_rng" in saved:
            torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), self.parts.device)

    # ---- checkpoints ---------------------------------------------------------

    def checkpoint(self, good: bool) -> CheckpointInfo:
        """Write a checkpoint now (end of run, halt): the caller needs its id."""
        self.wait()
        if not self.writer:
            return self._written_elsewhere(good)
        state = self.state
        return self._write_checkpoint(
            self.full(), state.step, state.epoch, good, self.val_accuracy()
        )

    def checkpoint_soon(self, good: bool) -> None:
        """The periodic checkpoint: the state is copied to host memory here
        (on CUDA that copy is the one part that must wait for the device) and
        one writer thread serialises and fsyncs it, so training, and the
        operator commands waiting for its next step boundary, never wait for
        the disk. At most one write is in flight."""
        if not self.writer:
            self.checkpoint(good)
            return
        self.wait()
        copy = host_copy(self.full())
        if self._pool is None:
            self._pool = helper_pool(1, "checkpoint")
        step, epoch, val = self.state.step, self.state.epoch, self.val_accuracy()
        self._write = self._pool.submit(
            self._write_checkpoint, copy, step, epoch, good, val
        )

    def wait(self) -> None:
        """Until the background write (if any) is on disk; re-raises its error."""
        write, self._write = self._write, None
        if write is not None:
            write.result()

    def close(self) -> None:
        try:
            self.wait()
        except Exception as exc:  # reported; the run's outcome is already set
            self.tm.event(
                "tolaria.checkpoint.failed", "critical", {"reason": describe(exc)}
            )
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _write_checkpoint(
        self,
        state: dict[str, Any],
        step: int,
        epoch: int,
        good: bool,
        val_accuracy: float | None,
    ) -> CheckpointInfo:
        ckpt_id, path, size = ckpt.write_checkpoint(
            self.checkpoint_dir, state, step=step, epoch=epoch, good=good
        )
        ckpt.prune_checkpoints(self.checkpoint_dir, self.opt.keep_checkpoints)
        info = CheckpointInfo(ckpt_id, str(path), step, epoch, size, good, val_accuracy)
        self.last_checkpoint = info
        self.hooks.on_checkpoint(info)
        return info

    def _written_elsewhere(self, good: bool) -> CheckpointInfo:
        """The checkpoint the writing rank makes of this step, by its id."""
        step = self.state.step
        ckpt_id = f"ckpt-{step:09d}"
        path = str(self.checkpoint_dir / ckpt_id)
        info = CheckpointInfo(ckpt_id, path, step, self.state.epoch, 0, good)
        self.last_checkpoint = info
        return info
