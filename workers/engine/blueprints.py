"""Karn: blueprint module builders, plus the Urza/Tezzeret build cache.

The catalogue data (names, tiers, risk, bounds) lives in api_schemas.catalogue so
the gateway serves it without torch; this module only knows how to build each
entry. Builds run on a small thread pool and are cached per (blueprint, shape,
device), so germination takes a ready module instead of building inside a step.
"""

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from api_schemas.catalogue import BlueprintRead
from workers.engine.helper_threads import helper_pool
from workers.engine.seeds.slot import SeedWrapper, slot_kind

Shape = tuple[int, ...]


class Residual(nn.Module):
    """x + f(x): the seed starts near identity and learns a correction."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.body(x)
        return out


class SqueezeExcite(nn.Module):
    """Channel attention: x scaled by a gate computed from x's channel summary."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        # Image (N, C, H, W) and sequence (N, C, L) activations are summarised
        # per channel over their spatial dimensions.
        summary = x.flatten(2).mean(dim=2) if x.dim() > 2 else x
        gate = self.fc(summary)
        return x * gate.reshape(gate.shape + (1,) * (x.dim() - 2))


class PerPosition(nn.Sequential):
    """Linear layers over the channel dimension at every position, so the same
    layers serve a vector slot and a sequence slot (as a 1x1 convolution).
    A Sequential itself, so its parameter names are a plain Sequential's (a
    low-rank seed's checkpoints from before sequence slots still load)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            out: Tensor = super().forward(x)
            return out
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


class Noise(nn.Module):
    """Deliberately harmful: a large random projection plus fresh noise."""

    def __init__(self, shape: Shape, scale: float = 2.0) -> None:
        super().__init__()
        c = shape[0]
        self.proj = nn.Linear(c, c, bias=False)
        self.proj._esper_noise = True  # type: ignore[assignment]
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        moved = x.movedim(1, -1) if x.dim() > 2 else x
        mixed = self.proj(moved)
        mixed = mixed.movedim(-1, 1) if x.dim() > 2 else mixed
        return x + mixed + self.scale * torch.randn_like(x)


def _small_last(layer: nn.Module) -> nn.Module:
    # A small last layer makes a new seed start close to the identity map;
    # applied by _seeded_init after the seeded re-initialisation.
    layer._esper_init_scale = 0.1  # type: ignore[assignment]
    return layer


_CONSTANT_INIT = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    SeedWrapper,
)


def _seeded_init(module: nn.Module, gen: torch.Generator) -> None:
    """Re-initialise from a private generator (uniform, fan-in bound, like
    PyTorch's defaults), so builds are reproducible without touching the global
    RNG, and so builder threads need no lock."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, SeedWrapper):
                sub.channel_scale.fill_(1.0)
                continue
            if isinstance(sub, _CONSTANT_INIT):
                # ones/zeros (and running stats); nn.Module's __getattr__ types
                # the method as a Tensor | Module attribute
                sub.reset_parameters()  # type: ignore[operator]
                continue
            weight = getattr(sub, "weight", None)
            if not isinstance(weight, Tensor):
                continue
            fan_in = weight[0].numel() if weight.dim() > 1 else weight.numel()
            bound = getattr(sub, "_esper_init_scale", 1.0) / math.sqrt(fan_in)
            if isinstance(sub, nn.Linear) and getattr(sub, "_esper_noise", False):
                bound = 2.0 * math.sqrt(3.0 / fan_in)  # large: it is meant to hurt
            for param in sub.parameters(recurse=False):
                param.uniform_(-bound, bound, generator=gen)


def _residual_mlp(shape: Shape) -> nn.Module:
    w = shape[0]
    return Residual(
        nn.Sequential(
            nn.Linear(w, max(1, w // 2)),
            nn.GELU(),
            _small_last(nn.Linear(max(1, w // 2), w)),
        )
    )


def _low_rank(shape: Shape) -> nn.Module:
    # On a sequence slot: the same adapter over channels at every position.
    w, r = shape[0], min(8, shape[0])
    return Residual(
        PerPosition(nn.Linear(w, r, bias=False), _small_last(nn.Linear(r, w)))
    )


def _conv3x3(shape: Shape) -> nn.Module:
    c = shape[0]
    return Residual(
        nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            _small_last(nn.Conv2d(c, c, 3, padding=1)),
        )
    )


def _depthwise(shape: Shape) -> nn.Module:
    c = shape[0]
    return Residual(
        nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, groups=c), _small_last(nn.Conv2d(c, c, 1))
        )
    )


def _conv1d(shape: Shape) -> nn.Module:
    c = shape[0]
    return Residual(
        nn.Sequential(
            nn.Conv1d(c, c, 3, padding=1),
            nn.BatchNorm1d(c),
            nn.ReLU(),
            _small_last(nn.Conv1d(c, c, 3, padding=1)),
        )
    )


def _depthwise1d(shape: Shape) -> nn.Module:
    c = shape[0]
    return Residual(
        nn.Sequential(
            nn.Conv1d(c, c, 5, padding=2, groups=c), _small_last(nn.Conv1d(c, c, 1))
        )
    )


def _norm(shape: Shape) -> nn.Module:
    if len(shape) == 1:
        return nn.LayerNorm(shape[0])
    groups = math.gcd(shape[0], 8)
    return nn.GroupNorm(groups, shape[0])


BUILDERS: dict[str, Callable[[Shape], nn.Module]] = {
    "residual_mlp": _residual_mlp,
    "low_rank": _low_rank,
    "conv3x3": _conv3x3,
    "depthwise_separable": _depthwise,
    "conv1d": _conv1d,
    "depthwise_separable_1d": _depthwise1d,
    "squeeze_excite": lambda s: SqueezeExcite(s[0]),
    "norm": _norm,
    "noise": Noise,
}


def fits(blueprint: BlueprintRead, shape: Shape) -> bool:
    return slot_kind(shape) in blueprint.slot_kinds


@dataclass
class BuiltSeed:
    """A ready module and what its G0 dry run found."""

    blueprint: str
    module: SeedWrapper
    params: int
    dry_run_ok: bool
    dry_run_error: str | None
    build_ms: float


def build_seed(name: str, shape: Shape, device: str, seed: int = 0) -> BuiltSeed:
    """Build, initialise (own generator, so builds never touch the run's RNG
    stream order), move and dry-run one seed module."""
    if name not in BUILDERS:
        raise KeyError(f"unknown blueprint {name!r}")
    started = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    # Constructed on the meta device: the default initialisation would draw
    # every weight once only for _seeded_init to draw it again.
    with torch.device("meta"):
        module = SeedWrapper(BUILDERS[name](shape), shape[0])
    # Materialised with plain torch.empty: to_empty's empty_like on meta
    # tensors costs ~0.3 s the first time in a process.
    module = module._apply(lambda t: torch.empty(t.shape, dtype=t.dtype))
    _seeded_init(module, gen)
    # The dry run is on the CPU copy, so a build never queues work on (or
    # waits for) the training stream of an accelerator.
    ok, error = _dry_run(module, shape, "cpu", gen)
    module = module.to(device)
    params = sum(p.numel() for p in module.parameters())
    return BuiltSeed(
        name, module, params, ok, error, (time.perf_counter() - started) * 1000
    )


def _dry_run(
    module: nn.Module, shape: Shape, device: str, gen: torch.Generator
) -> tuple[bool, str | None]:
    x = torch.randn((2, *shape), generator=gen).to(device)
    try:
        with torch.no_grad():
            module.eval()
            out = module(x)
            module.train()
    except Exception as exc:  # a broken builder fails G0, not the run
        return False, f"dry run raised {type(exc).__name__}: {exc}"
    if out.shape != x.shape:
        return False, f"dry run shape {tuple(out.shape)} != {tuple(x.shape)}"
    if not bool(torch.isfinite(out).all()):
        return False, "dry run produced non-finite values"
    return True, None


Key = tuple[str, Shape, str]


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)


class BlueprintCache:
    """Builds seed modules ahead of need on a small pool; one ready module per key.

    `take` hands over the ready module (waiting only if its build is still in
    flight) and queues a refill for that key. Refills are speculative, so they
    run on their own thread and only while no requested build is in flight:
    they never compete for the CPU with a build someone waits for.
    `build_delay_s` injects a ready latency for the prefetch benchmark: a
    requested module is ready no sooner than that long after its build starts
    (as if compiled or fetched elsewhere), and the real construction runs within
    that window, so what a requester waits beyond it is the cache's own cost.
    """

    def __init__(
        self, workers: int = 2, build_delay_s: float = 0.0, base_seed: int = 0
    ) -> None:
        self._pool = helper_pool(workers, "karn-build")
        # Re-entrant: a build that finishes before add_done_callback runs its
        # callback at once, in this thread, while _submit still holds the lock.
        self._lock = threading.RLock()
        self._futures: dict[Key, Future[BuiltSeed]] = {}
        self._builds = 0
        self._refill_pool = helper_pool(1, "karn-refill")
        self._idle = threading.Condition(self._lock)
        self._requested = 0  # requested builds queued or running
        self.refills = 0
        self.build_delay_s = build_delay_s
        self.base_seed = base_seed
        self.hits = 0
        self.misses = 0

    def _build(self, key: Key, seed: int) -> BuiltSeed:
        ready_at = time.perf_counter() + self.build_delay_s
        built = build_seed(key[0], key[1], key[2], seed)
        _sleep_until(ready_at)
        return built

    def _requested_done(self, future: "Future[BuiltSeed]") -> None:
        with self._idle:  # built, failed or cancelled: no longer in the way
            self._requested -= 1
            self._idle.notify_all()

    def _refill(self, key: Key, seed: int) -> BuiltSeed:
        _sleep_until(time.perf_counter() + self.build_delay_s)
        with self._idle:  # wait (bounded) for the requested builds to finish
            self._idle.wait_for(lambda: self._requested == 0, timeout=5.0)
        self.refills += 1
        return build_seed(key[0], key[1], key[2], seed)

    def prefetch(self, name: str, shape: Shape, device: str) -> None:
        self._submit((name, tuple(shape), device), refill=False)

    def _submit(self, key: Key, refill: bool) -> None:
        with self._lock:
            if key not in self._futures:
                self._builds += 1
                seed = self.base_seed * 1000 + self._builds
                if refill:
                    future = self._refill_pool.submit(self._refill, key, seed)
                else:
                    self._requested += 1
                    future = self._pool.submit(self._build, key, seed)
                    future.add_done_callback(self._requested_done)
                self._futures[key] = future

    def ready(self, name: str, shape: Shape, device: str) -> bool:
        future = self._futures.get((name, tuple(shape), device))
        return future is not None and future.done()

    def take(
        self, name: str, shape: Shape, device: str, timeout: float | None = None
    ) -> BuiltSeed:
        key = (name, tuple(shape), device)
        self.prefetch(name, shape, device)
        with self._lock:
            future = self._futures.pop(key)
            if future.done():
                self.hits += 1
            else:
                self.misses += 1
        built = future.result(timeout=timeout)
        self._submit(key, refill=True)
        return built

    def clear(self) -> int:
        """Drop every cached or in-flight build (registry_reset)."""
        with self._lock:
            futures, self._futures = self._futures, {}
        for future in futures.values():
            future.cancel()
        return len(futures)

    def size(self) -> int:
        return len(self._futures)

    def close(self) -> None:
        self.clear()
        # Wait for a build in flight: module constructors draw from the global
        # RNG, and a next run in this process must not initialise its host
        # meanwhile.
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._refill_pool.shutdown(wait=True, cancel_futures=True)
