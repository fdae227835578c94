"""A WebSocket client that follows runs to their end and records every frame:
`python -m load.hosts.follow --url ws://GATEWAY --out DIR RUN_ID ...`.

Run on the client host of load/hosts/cluster.py. For each run it opens
`/ws/runs/{id}` (bearer token from ESPER_TOKEN), replays from the start, and
keeps reading until the server closes with 1000 (the run ended). Any other
end (a dropped connection, a close code other than 1000) counts as a reconnect
and it resumes with `?after=<last cursor>`, as API.md's resume rule says.
It writes `DIR/<run>.frames.jsonl` (cursor, kind, name, step, value, arrival
time of each frame) and `DIR/<run>.summary.json` (frames, gaps, reconnects,
cursors out of order, the close), then exits 0, or 1 if a run did not end
within --timeout.
"""

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def cursor_key(cursor: str) -> tuple[int, int]:
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)


async def follow(url: str, run_id: str, out: Path, deadline: float) -> dict[str, Any]:
    token = os.environ.get("ESPER_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    summary: dict[str, Any] = {
        "run_id": run_id,
        "frames": 0,
        "gaps": [],
        "reconnects": 0,
        "out_of_order": 0,
        "close_code": None,
        "close_reason": "",
        "ended": False,
        "errors": [],
    }
    last: str | None = None
    with (out / f"{run_id}.frames.jsonl").open("w") as frames:
        while time.monotonic() < deadline and not summary["ended"]:
            query = f"?after={last}" if last else ""
            try:
                async with connect(
                    f"{url}/ws/runs/{run_id}{query}",
                    additional_headers=headers,
                    compression=None,
                    open_timeout=10,
                ) as ws:
                    async for message in ws:
                        frame = json.loads(message)
                        cursor = frame.get("cursor")
                        if cursor is None:
                            continue  # not a packet (a pong)
                        if last and cursor_key(cursor) <= cursor_key(last):
                            summary["out_of_order"] += 1
                        if frame.get("name") == "telemetry.gap":
                            summary["gaps"].append(frame.get("attrs"))
                        last = cursor
                        summary["frames"] += 1
                        row = {
                            "cursor": cursor,
                            "kind": frame.get("kind"),
                            "name": frame.get("name"),
                            "step": frame.get("step"),
                            "value": frame.get("value"),
                            "t": time.time(),
                        }
                        frames.write(json.dumps(row) + "\n")
                    code, reason = ws.close_code, ws.close_reason
            except (ConnectionClosed, InvalidStatus, OSError, TimeoutError) as exc:
                code, reason = None, f"{type(exc).__name__}: {exc}"
                summary["errors"].append(reason)
            summary["close_code"], summary["close_reason"] = code, reason
            if code == 1000:
                summary["ended"] = True
            else:
                summary["reconnects"] += 1
                await asyncio.sleep(0.5)
    summary["last_cursor"] = last
    (out / f"{run_id}.summary.json").write_text(json.dumps(summary, indent=2))
    return summary


async def main_async(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.timeout
    summaries = await asyncio.gather(
        *(follow(args.url, run, args.out, deadline) for run in args.runs)
    )
    return 0 if all(s["ended"] for s in summaries) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.hosts.follow")
    parser.add_argument("--url", required=True, help="ws://host:port of a gateway")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("runs", nargs="+")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
