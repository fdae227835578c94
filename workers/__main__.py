"""`python -m workers --device cpu|cuda|cuda:N|auto [--worker-id ID]`."""

import argparse
import gc
import logging
import signal
import sys
from types import FrameType

import torch

from workers.device import DeviceError, cpu_threads, resolve
from workers.run_artifacts import open_store
from workers.runner import Runner
from workers.settings import WorkerSettings

log = logging.getLogger("esper.worker")

# The command reader must take the GIL from a busy training thread the moment a
# command arrives: at CPython's default 5 ms switch interval an emergency halt
# could wait longer than a whole training step. The reader idles in XREAD, so
# the shorter interval costs nothing while no command is in flight.
GIL_SWITCH_INTERVAL_S = 0.0005


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workers", description="Run one Esper worker."
    )
    parser.add_argument(
        "--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)"
    )
    parser.add_argument(
        "--worker-id", default=None, help="Stable id (default: host-device-random)"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = WorkerSettings()
    if not settings.keyring and not settings.local_mode:
        log.error(
            "ESPER_LEYLINE_SECRET is not set; refusing to start outside "
            "local mode (commands could not be verified)"
        )
        return 2
    try:
        device = resolve(args.device)
    except DeviceError as exc:
        log.error("%s", exc)
        return 2
    try:  # a store this worker cannot use stops it here, not each run
        open_store(settings.artifact_store_url, settings.artifact_options)
    except (ImportError, ValueError, OSError) as exc:
        log.error("artifact store %s: %s", settings.artifact_store_url, exc)
        return 2
    torch.set_num_threads(cpu_threads(settings.cpu_threads))
    runner = Runner(settings, device, args.worker_id)
    gc.freeze()  # imports done: full collections need not walk them (see session)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        runner.request_shutdown()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return runner.serve()


if __name__ == "__main__":
    sys.exit(main())
