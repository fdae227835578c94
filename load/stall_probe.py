"""Stall probe: does this machine stop running user code for milliseconds at a time?

One process per CPU, pinned, at SCHED_FIFO priority: each sleeps 1 ms in a loop
and records every wake-up that came late by more than --threshold-ms. Nothing in
the guest's scheduler can keep a FIFO task off its CPU (RT throttling only
starts at 95% RT load), so a late wake-up means the CPU itself was not running
guest user code: a hypervisor preemption of the vCPU, or a long non-preemptible
kernel section. Run it beside a benchmark and match its gaps (unix time) against
the benchmark's slow samples.

    python -m load.stall_probe --seconds 60 > /tmp/stalls.jsonl

Needs root (SCHED_FIFO). Prints one JSON line per gap, then a summary per CPU.
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

SLEEP_S = 0.001


def probe(
    cpu: int, seconds: float, threshold_ms: float, out: "mp.Queue[object]"
) -> None:
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
    except PermissionError:
        # Still useful unprivileged, but a late wake-up may then be the guest's
        # own scheduler rather than the hypervisor.
        print(f"cpu {cpu}: not root, probing at normal priority", file=sys.stderr)
    gaps: list[tuple[float, float]] = []
    end = time.monotonic() + seconds
    before = time.monotonic()
    while before < end:
        time.sleep(SLEEP_S)
        now = time.monotonic()
        late_ms = (now - before - SLEEP_S) * 1000
        if late_ms > threshold_ms:
            gaps.append((time.time() - (now - before), late_ms))
        before = now
    out.put((cpu, gaps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threshold-ms", type=float, default=2.0)
    args = parser.parse_args(argv)
    out: mp.Queue[object] = mp.Queue()
    cpus = sorted(os.sched_getaffinity(0))
    procs = [
        mp.Process(target=probe, args=(c, args.seconds, args.threshold_ms, out))
        for c in cpus
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    for cpu, gaps in sorted(results):  # type: ignore[misc]
        for start, late in gaps:
            print(
                json.dumps(
                    {
                        "cpu": cpu,
                        "start_unix": round(start, 4),
                        "late_ms": round(late, 2),
                    }
                )
            )
        worst = max((g[1] for g in gaps), default=0.0)
        print(
            f"cpu {cpu}: {len(gaps)} wake-ups late by > {args.threshold_ms} ms "
            f"in {args.seconds:.0f} s, worst {worst:.1f} ms",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
