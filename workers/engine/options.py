"""Engine knobs that are not part of the run spec (defaults suit every task)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class EngineOptions:
    sync_every_cuda: int = 20  # CUDA: read losses back every N steps, not per step
    # Read per-step figures back in batches (every sync_every_cuda steps) and
    # gate signals one check late; None: on CUDA only. True on the CPU runs
    # the CUDA code path (its tests).
    deferred_reads: bool | None = None
    max_ahead_steps: int = 2  # CUDA: steps the host may queue ahead of the device
    snapshot_every: int = 50  # steps between fast-cache snapshots
    rollback_cache_mb: float = 256.0
    rollback_cache_snapshots: int = 8  # the newest N snapshots, within the MB bound
    rollback_deadline_ms: float = 500.0
    keep_checkpoints: int = 5
    seed_telemetry_every: int = 10  # steps between per-seed packets
    grad_norm_every: int = 10  # steps between tolaria.grad_norm readings
    # Steps between training-accuracy readings. The reduction over the logits is
    # the engine's largest per-step cost on a small CPU model (about 20-30 us
    # of a 1.7 ms step); every 10th step aligns with the policy's cadence.
    accuracy_every: int = 10
    policy_every: int = 10  # steps between Tamiyo decisions
    pause_poll_s: float = 0.02
    val_batch: int = 1024
    mixed_precision: bool = True  # CUDA only: bf16 autocast (compute capability >= 8)
    # spec.model.options["compile"] = true; a backend name or callable (tests)
    compile_backend: str | Callable[..., Any] = "inductor"
    build_delay_s: float = 0.0  # injected blueprint build latency (benchmarks)
