"""Tolaria's recovery: snapshots, checkpoints and rollback, as a part of Trainer.

Kept apart from the step loop in trainer.py; the methods work on the Trainer's
state (model, optimizer, seeds, RNG, position), so they live in a base class the
Trainer inherits rather than in free functions threading that state through.
"""

import random
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from workers.engine import checkpoints as ckpt
from workers.engine.emergency import Level
from workers.engine.helper_threads import helper_pool
from workers.engine.hooks import CheckpointInfo
from workers.engine.rollback import (
    BatchedCopies,
    clone_state,
    host_copy,
    same_layout,
)
from workers.engine.runtime import _as_tuple, _describe


class Recovery:
    """Rollback and checkpoint methods of Trainer (see trainer.py for the state)."""

    _ckpt_pool: ThreadPoolExecutor | None = None
    _ckpt_write: "Future[CheckpointInfo] | None" = None

    def _emergency_rollback(self, reason: str) -> None:
        try:
            self.rollback(None, reason=f"emergency: {reason}")
        except Exception as exc:
            self.tm.event(
                "tolaria.rollback.restore_failed",
                "critical",
                {"reason": _describe(exc)},
            )
            self._escalate(Level.HALT, f"rollback failed: {_describe(exc)}")

    def rollback(self, target: str | None, reason: str) -> dict[str, Any]:
        """Restore model, optimizer and seeds from the fast cache or disk."""
        started = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        snapshot = self.snapshots.get(target)
        if snapshot is not None:
            source, snap_id, snap_step = "memory", snapshot.id, snapshot.step
            self._restore(snapshot.state, full=False)
        else:
            path = self._find_checkpoint(target)
            manifest = ckpt.read_manifest(path)
            source, snap_id, snap_step = "disk", manifest["id"], manifest["step"]
            self._restore(ckpt.load_checkpoint(path, self.device), full=False)
        if self.cuda:  # the copies are queued: time (and check) them done
            torch.cuda.synchronize(self.device)
        elapsed_ms = self._elapsed_ms(started, "rollback")
        result = {
            "source": source,
            "checkpoint_id": snap_id,
            "restored_step": snap_step,
            "latency_ms": elapsed_ms,
            "reason": reason,
        }
        self.tm.metric("tolaria.rollback.restore_latency_ms", elapsed_ms)
        self.tm.event("tolaria.rollback.restored", "warning", result)
        if elapsed_ms > self.opt.rollback_deadline_ms:
            self.tm.count("tolaria.rollback.deadline_exceeded_total")
            level, why = self.ladder.failure(
                self.step, Level.CONSERVATIVE, f"rollback took {elapsed_ms:.0f} ms"
            )
            self._escalate(level, why)
        return result

    def _find_checkpoint(self, target: str | None) -> Path:
        self.wait_checkpoint()  # one still being written counts
        found = ckpt.list_checkpoints(self.checkpoint_dir)
        if target is not None:
            matches = [m for m in found if target in (m["id"], str(m["step"]))]
        else:
            matches = [m for m in found if m.get("good")]
        if not matches:
            raise LookupError(f"no snapshot or checkpoint {target or '(last good)'}")
        return Path(matches[-1]["path"])

    # ---- state: snapshots, checkpoints, restore ---------------------------------

    def _core_state(self) -> dict[str, Any]:
        assert self.seeds is not None
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "seeds": self.seeds.state(),
        }

    def _snapshot(self, good: bool) -> None:
        self.snapshots.put(
            f"snap-{self.step}", self.step, self.epoch, self._core_state(), good
        )

    def _full_state(self) -> dict[str, Any]:
        state = self._core_state()
        state.update(
            {
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "data_gen": self.data_gen.get_state(),
                "epoch_gen": self.epoch_gen_state,
                "torch_rng": torch.get_rng_state(),
                "py_rng": random.getstate(),
                "loss_ewma": self.ladder.loss_ewma,
                "spec": self.spec.model_dump(mode="json"),
            }
        )
        if self.cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _restore(self, state: dict[str, Any], full: bool) -> None:
        assert self.seeds is not None
        self.seeds.load_state(state["seeds"], seed=self.spec.seed)
        copies = BatchedCopies()
        if not self._load_model_in_place(state["model"], copies):
            self.model.load_state_dict(state["model"])
        if not self._load_optimizer_in_place(state["optimizer"], copies):
            self.optimizer = self._new_optimizer()
            # load_state_dict may alias the given tensors; clone so the snapshot
            # stays pristine for a later rollback.
            self.optimizer.load_state_dict(clone_state(state["optimizer"]))
        copies.run()
        self.seeds.optimizer = self.optimizer
        if full:
            self._restore_position(state)

    def _load_model_in_place(
        self, saved: dict[str, Any], copies: BatchedCopies
    ) -> bool:
        """Fast path for rollback: the same tensors by name and shape, so the
        saved values are copied into the live ones (torch's load_state_dict
        walks every module in Python first)."""
        live = self.model.state_dict()
        if live.keys() != saved.keys() or not all(
            same_layout(live[k], v) for k, v in saved.items()
        ):
            return False
        for name, tensor in live.items():
            copies.into(tensor, saved[name])
        return True

    def _load_optimizer_in_place(
        self, saved: dict[str, Any], copies: BatchedCopies
    ) -> bool:
        """Fast path for rollback: same groups, so copy state tensors in place
        instead of rebuilding the optimizer."""
        current = self.optimizer
        groups = saved["param_groups"]
        if [g.get("owner") for g in groups] != [
            g.get("owner") for g in current.param_groups
        ] or [len(g["params"]) for g in groups] != [
            len(g["params"]) for g in current.param_groups
        ]:
            return False
        params = [p for g in current.param_groups for p in g["params"]]
        indices = [i for g in groups for i in g["params"]]
        index_map = dict(zip(indices, params, strict=True))
        old_state = current.state
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, values in saved["state"].items():
            existing = old_state.get(index_map[index], {})
            new_state[index_map[index]] = {
                k: copies.into(existing.get(k), v) for k, v in values.items()
            }
        current.state = new_state
        for group, saved_group in zip(current.param_groups, groups, strict=True):
            group.update({k: v for k, v in saved_group.items() if k != "params"})
        return True

    def _restore_position(self, state: dict[str, Any]) -> None:
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.tm.step, self.tm.epoch = self.step, self.epoch
        self.data_gen.set_state(state["data_gen"].cpu())
        self.epoch_gen_state = state["epoch_gen"].cpu()
        torch.set_rng_state(state["torch_rng"].cpu())
        random.setstate(_as_tuple(state["py_rng"]))
        self.ladder.loss_ewma = state.get("loss_ewma")
        if self.cuda and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)

    def _checkpoint(self, good: bool = True) -> CheckpointInfo:
        """Write a checkpoint now (end of run, halt): the caller needs its id."""
        good = good and self.ladder.level <= Level.NOTICE
        self.wait_checkpoint()
        return self._write_checkpoint(self._full_state(), self.step, self.epoch, good)

    def _checkpoint_soon(self, good: bool = True) -> None:
        """The per-epoch checkpoint: the state is copied to host memory here
        (on CUDA that copy is the one part that must wait for the device) and
        one writer thread serialises and fsyncs it, so training, and the
        operator commands waiting for its next step boundary, never wait for
        the disk. At most one write is in flight."""
        good = good and self.ladder.level <= Level.NOTICE
        self.wait_checkpoint()
        state = host_copy(self._full_state())
        if self._ckpt_pool is None:
            self._ckpt_pool = helper_pool(1, "checkpoint")
        self._ckpt_write = self._ckpt_pool.submit(
            self._write_checkpoint, state, self.step, self.epoch, good
        )

    def wait_checkpoint(self) -> None:
        """Until the background write (if any) is on disk; re-raises its error."""
        write, self._ckpt_write = self._ckpt_write, None
        if write is not None:
            write.result()

    def _close_checkpoints(self) -> None:
        try:
            self.wait_checkpoint()
        except Exception as exc:  # reported; the run's outcome is already set
            self.tm.event("tolaria.checkpoint.failed", "critical",
                          {"reason": _describe(exc)})
        finally:
            if self._ckpt_pool is not None:
                self._ckpt_pool.shutdown(wait=True)
                self._ckpt_pool = None

    def _write_checkpoint(
        self, state: dict[str, Any], step: int, epoch: int, good: bool
    ) -> CheckpointInfo:
        ckpt_id, path, size = ckpt.write_checkpoint(
            self.checkpoint_dir, state, step=step, epoch=epoch, good=good
        )
        ckpt.prune_checkpoints(self.checkpoint_dir, self.opt.keep_checkpoints)
        info = CheckpointInfo(ckpt_id, str(path), step, epoch, size, good)
        self.last_checkpoint = info
        self.hooks.on_checkpoint(info)
        return info
