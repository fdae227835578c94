"""`esper runs ...`: submit, list, inspect, follow and steer runs."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from esper_client.api.artifacts import list_run_artifacts
from esper_client.api.runs import create_run, get_run, list_run_seeds, list_runs
from esper_client.api.telemetry import list_run_telemetry
from esper_client.models import PacketKind, RunCreate, RunState, TelemetryPage
from esper_client.types import UNSET

from app.cli.client.follow import Follower, View, describe_line
from app.cli.client.run_commands import register_commands
from app.cli.client.session import (
    RUN_END_CODES,
    CliFailure,
    ExitCode,
    Output,
    Session,
    client_command,
    ok,
)
from app.cli.client.spec import load_spec
from app.cli.recorded import wait_recorded

runs_app = typer.Typer(
    help="Submit, list, follow and steer runs.", no_args_is_help=True
)
RUN_COLUMNS = ["id", "name", "state", "spec.task", "epoch", "step", "metrics.loss"]
TERMINAL = set(RUN_END_CODES)


def fetch_run(session: Session, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = ok(
        get_run.sync_detailed(run_id, client=session.sdk)
    ).to_dict()
    return run


def wait_for_end(session: Session, run_id: str, poll_s: float = 0.5) -> dict[str, Any]:
    while (run := fetch_run(session, run_id))["state"] not in TERMINAL:
        time.sleep(poll_s)
    wait_for_history(session, run_id)
    return run


def wait_for_history(session: Session, run_id: str) -> bool:
    """Until the run's persisted history holds its end (app/cli/recorded.py),
    so a following `esper runs logs|seeds` reads the whole run."""

    def states() -> list[object]:
        page = ok(
            list_run_telemetry.sync_detailed(
                run_id, client=session.sdk, kind=PacketKind.STATE, limit=5000
            )
        )
        assert isinstance(page, TelemetryPage)
        return [p.value for p in page.items]

    return wait_recorded(states)


def end_with(state: str | None) -> None:
    """Exit with the code of the run's final state (docs/cli.md)."""
    code = RUN_END_CODES.get(state or "", ExitCode.FAILED)
    raise typer.Exit(int(code))


@client_command(runs_app, "submit")
def submit(
    session: Session,
    spec: Annotated[Path, typer.Argument(help="Run spec, YAML or JSON.")],
    name: Annotated[str | None, typer.Option(help="The run's name.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: key=value (dotted keys)."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow its telemetry.")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Wait for it to end.")] = False,
) -> None:
    """Submit a run; with --wait or --follow, exit with its outcome."""
    body = RunCreate.from_dict(load_spec(spec, name, set_ or []))
    run = ok(create_run.sync_detailed(client=session.sdk, body=body)).to_dict()
    if follow:
        if session.output is Output.table:
            session.errors.print(f"submitted {run['id']}", highlight=False)
        end_with(_follow(session, run["id"], run["spec"]["epochs"]))
    if wait:
        run = wait_for_end(session, run["id"])
    session.show(run, RUN_COLUMNS)
    if wait:
        end_with(run["state"])


@client_command(runs_app, "list")
def list_(
    session: Session,
    state: Annotated[RunState | None, typer.Option(help="Only this state.")] = None,
    label: Annotated[str | None, typer.Option(help="Only runs labelled k=v.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List runs, newest first."""
    page = ok(
        list_runs.sync_detailed(
            client=session.sdk,
            limit=limit,
            state=state if state is not None else UNSET,
            label=label if label is not None else UNSET,
        )
    )
    session.show(page.items, RUN_COLUMNS)


@client_command(runs_app, "get")
def get(session: Session, run_id: Annotated[str, typer.Argument()]) -> None:
    """Show one run."""
    session.show(fetch_run(session, run_id), RUN_COLUMNS)


@client_command(runs_app, "logs")
def logs(
    session: Session,
    run_id: Annotated[str, typer.Argument()],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Stream live until it ends.")
    ] = False,
) -> None:
    """Its telemetry: the history, or with -f live (resuming after drops)."""
    run = fetch_run(session, run_id)
    if follow:
        end_with(_follow(session, run_id, run["spec"]["epochs"]))
    after: Any = UNSET
    while True:
        page = ok(
            list_run_telemetry.sync_detailed(
                run_id, client=session.sdk, after=after, limit=500
            )
        )
        assert isinstance(page, TelemetryPage)
        _print_history(session, [packet.to_dict() for packet in page.items])
        if not page.next_cursor:
            return
        after = page.next_cursor


def _print_history(session: Session, packets: list[dict[str, Any]]) -> None:
    view = View(session.console, 0, session.output is not Output.table)
    for packet in packets:
        if view.json_lines:
            view.frame(packet)
        elif (line := describe_line(packet)) is not None:
            session.console.print(line, highlight=False, markup=False)


def _follow(session: Session, run_id: str, epochs: int) -> str | None:
    json_lines = session.output is not Output.table
    with View(session.console, epochs, json_lines) as view:
        follower = Follower(session, run_id, view)
        final = follower.run()
    if final not in TERMINAL:  # the socket ended without a final state frame
        final = fetch_run(session, run_id)["state"]
    if final in TERMINAL:
        wait_for_history(session, run_id)
    return final


@client_command(runs_app, "seeds")
def seeds(session: Session, run_id: Annotated[str, typer.Argument()]) -> None:
    """Every seed the run germinated, live or ended."""
    found = ok(list_run_seeds.sync_detailed(run_id, client=session.sdk))
    columns = ["seed_id", "slot", "blueprint", "stage", "outcome", "alpha", "params"]
    session.show(found, columns)


@client_command(runs_app, "artifacts")
def artifacts(session: Session, run_id: Annotated[str, typer.Argument()]) -> None:
    """The run's artifacts in the store."""
    found = ok(list_run_artifacts.sync_detailed(run_id, client=session.sdk))
    session.show(found, ["name", "kind", "bytes", "step", "sha256"])


@client_command(runs_app, "download")
def download(
    session: Session,
    run_id: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Argument(help="Default: every artifact.")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-O", help="File (one artifact) or folder."),
    ] = None,
) -> None:
    """Download one artifact, or all of them into a folder."""
    listed = ok(list_run_artifacts.sync_detailed(run_id, client=session.sdk))
    names = [a.name for a in listed] if name is None else [name]
    if name is not None and name not in names:
        raise CliFailure(f"no artifact {name!r}", ExitCode.NOT_FOUND)
    for each in names:
        target = _download_path(run_id, each, out, single=name is not None)
        _stream_to(session, run_id, each, target)
        session.errors.print(f"wrote {target}", highlight=False)


def _download_path(run_id: str, name: str, out: Path | None, single: bool) -> Path:
    """One artifact: `out` (a file, or a folder to put it in), else ./NAME.
    All of them: into `out`, else ./RUN_ID/."""
    if single:
        if out is None:
            return Path(name)
        return out / name if out.is_dir() else out
    return (out or Path(run_id)) / name


def _stream_to(session: Session, run_id: str, name: str, target: Path) -> None:
    """Streamed to disk through the SDK's own httpx client (its base URL and
    token): the generated download function would hold a checkpoint in memory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    url = f"/api/v1/runs/{run_id}/artifacts/{name}"
    with session.sdk.get_httpx_client().stream("GET", url) as response:
        if response.status_code != 200:
            response.read()
            ok(_as_response(response))
        with target.open("wb") as sink:
            for chunk in response.iter_bytes():
                sink.write(chunk)


def _as_response(response: Any) -> Any:
    from esper_client.types import Response  # noqa: PLC0415

    return Response(
        status_code=response.status_code,
        content=response.content,
        headers=response.headers,
        parsed=None,
    )


register_commands(runs_app)
