"""Entry point: pick a scenario by name; scenarios are imported lazily, so one
that needs no torch never imports it. Register a scenario with one line in
SCENARIOS; its module exposes `add_arguments(parser)` (optional) and
`run(args) -> dict` (the JSON summary)."""

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

SCENARIOS: dict[str, str] = {
    "steady-train": "load.scenarios.steady_train",
    "rollback": "load.scenarios.rollback",
    "policy-timeout": "load.scenarios.policy_timeout",
    "prefetch": "load.scenarios.prefetch",
    "command-latency": "load.scenarios.command_latency",
    "halt-latency": "load.scenarios.halt_latency",
    "engine-halt": "load.scenarios.engine_halt",
    "ddp-scaling": "load.scenarios.ddp_scaling",
    "api-throughput": "load.scenarios.api_throughput",
    "ws-fanout": "load.scenarios.ws_fanout",
    "chaos": "load.scenarios.chaos",
    "soak": "load.scenarios.soak",
    "client-import": "load.scenarios.client_import",
    "emergency-lane": "load.scenarios.emergency_lane",
    "several-hosts": "load.scenarios.several_hosts",
    "rc1": "load.scenarios.rc1",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    top = argparse.ArgumentParser(prog="python -m load", add_help=False)
    top.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS))
    known, rest = top.parse_known_args(argv)
    if known.scenario is None:
        print("usage: python -m load <scenario> [--quick] [--json PATH] [options]")
        print("scenarios: " + ", ".join(sorted(SCENARIOS)))
        return 2
    module = importlib.import_module(SCENARIOS[known.scenario])
    parser = argparse.ArgumentParser(prog=f"python -m load {known.scenario}")
    parser.add_argument("--quick", action="store_true", help="small version, < 1 min")
    parser.add_argument("--json", type=Path, help="write the JSON summary here")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    args = parser.parse_args(rest)
    summary: dict[str, Any] = module.run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
