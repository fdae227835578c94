"""How the gateway is served: one uvicorn command line for every launcher
(`esper up`, the tests' GatewayProcess, the benchmarks)."""

import sys

# Per-message deflate off: each telemetry packet is serialised once and sent to
# every client, and compressing it per client would cost CPU per client (and
# websockets clients close slowly against uvicorn with it on). A short graceful
# shutdown: open WebSockets should not hold a restart for long.
UVICORN_FLAGS = (
    "--ws-per-message-deflate",
    "false",
    "--timeout-graceful-shutdown",
    "3",
)


def gateway_argv(host: str, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        *UVICORN_FLAGS,
        *extra,
    ]
