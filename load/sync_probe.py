"""Where the engine makes the host wait for the device: a CUDA run of the
steady-train engine side under `torch.cuda.set_sync_debug_mode("warn")`,
printing each synchronising call site (engine frames only) with its count.

    python -m load.sync_probe [--seeds] [--steps 200] [steady-train options]

Expected: one read-back every `sync_every_cuda` steps, the run-ahead bound's
event waits (not reported: they wait on an event, not the stream) and the
epoch ends; anything else per step is a stall worth removing.
"""

import argparse
import collections
import traceback
import warnings

import torch

from load.scenarios import steady_sides as sides
from load.scenarios import steady_train


def engine_call_site() -> str:
    """The innermost three engine frames of the current stack, innermost first
    (`engine/x.py:12 <- engine/y.py:34 <- ...`); "" outside the engine."""
    frames = [f for f in traceback.extract_stack()[:-1] if "/workers/" in f.filename]
    return " <- ".join(
        f"{f.filename.split('/workers/')[-1]}:{f.lineno}" for f in reversed(frames[-3:])
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load.sync_probe")
    steady_train.add_arguments(parser)
    parser.set_defaults(
        device="cuda", task="synthetic-images", width=64, batch_size=256, samples=32768
    )
    args = parser.parse_args()
    args.quick = False
    steps = args.steps or 200
    if args.seeds:
        sides.engine_run(args, steps)  # the pilot: learns the fossilised slots
    sites: collections.Counter[str] = collections.Counter()

    def record(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
        sites[engine_call_site() or f"{filename}:{lineno}"] += 1

    warnings.showwarning = record
    warnings.simplefilter("always")
    torch.cuda.set_sync_debug_mode("warn")
    try:
        sides.engine_run(args, steps)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    print(
        f"synchronising calls in {steps} engine steps "
        f"({'seeds' if args.seeds else 'no seeds'}):"
    )
    for where, count in sites.most_common(25):
        print(f"{count:6d}  {where}")


if __name__ == "__main__":
    main()
