"""What every client command shares: its connection options, the SDK client,
the output format, and the mapping of failures to exit codes.

`client_command(app)` registers a function `fn(session, ...)` as a command
with `--url --token --profile --output` appended, and turns an API error into
its message on stderr and the documented exit code.
"""

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Annotated, Any, TypeVar

import httpx
import typer
from esper_client import AuthenticatedClient
from esper_client.types import Response
from rich.console import Console

from app.cli.client.connection import Target
from app.cli.client.output import render


class ExitCode(IntEnum):
    """The client CLI's exit codes (docs/cli.md)."""

    OK = 0  # done; a waited run completed
    FAILED = 1  # a waited run failed, or the request failed otherwise
    USAGE = 2  # bad arguments or a spec the gateway refused (400/422)
    HALTED = 3  # a waited run was halted or cancelled
    AUTH = 4  # 401/403 (or the WebSocket's 4401/4403)
    NOT_FOUND = 5  # 404 (or 4404)


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


RUN_END_CODES = {
    "completed": ExitCode.OK,
    "failed": ExitCode.FAILED,
    "halted": ExitCode.HALTED,
    "cancelled": ExitCode.HALTED,
}
STATUS_CODES = {
    400: ExitCode.USAGE,
    401: ExitCode.AUTH,
    403: ExitCode.AUTH,
    404: ExitCode.NOT_FOUND,
    422: ExitCode.USAGE,
}


class CliFailure(Exception):
    """Ends the command with `message` on stderr and exit `code`."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Session:
    target: Target
    output: Output
    console: Console = field(default_factory=Console)
    errors: Console = field(default_factory=lambda: Console(stderr=True))

    @functools.cached_property
    def sdk(self) -> AuthenticatedClient:
        # No token (auth off): the header goes out empty and is not checked.
        return AuthenticatedClient(
            base_url=self.target.url,
            token=self.target.token or "",
            prefix="Bearer" if self.target.token else "",
            timeout=httpx.Timeout(60.0, connect=10.0),
        )

    def show(self, data: Any, columns: list[str], title: str | None = None) -> None:
        render(self.console, data, self.output.value, columns, title)


T = TypeVar("T")


def ok(response: Response[Any]) -> Any:
    """The parsed body of a 2xx response; otherwise a CliFailure carrying the
    error's code and message and the status's exit code."""
    status = int(response.status_code)
    if 200 <= status < 300:
        return response.parsed
    try:
        body = json.loads(response.content)
        error = body.get("error") or {}
        message = f"{error.get('code', status)}: {error.get('message', '')}"
    except (ValueError, AttributeError):
        message = f"HTTP {status}"
    raise CliFailure(message, STATUS_CODES.get(status, ExitCode.FAILED))


@contextmanager
def failures_to_exit() -> Iterator[None]:
    errors = Console(stderr=True)
    try:
        yield
    except CliFailure as failure:
        errors.print(f"[red]error[/red] {failure}", highlight=False)
        raise typer.Exit(int(failure.code)) from None
    except httpx.HTTPError as error:
        errors.print(f"[red]error[/red] cannot reach the gateway: {error}")
        raise typer.Exit(int(ExitCode.FAILED)) from None


UrlOption = Annotated[
    str | None, typer.Option(help="Gateway URL (else ESPER_URL, the profile).")
]
TokenOption = Annotated[
    str | None, typer.Option(help="API token (else ESPER_TOKEN, the profile).")
]
ProfileOption = Annotated[
    str | None, typer.Option(help="Profile saved by `esper login`.")
]
OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table, json or yaml.")
]


def _option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


COMMON = [
    _option("url", UrlOption),
    _option("token", TokenOption),
    _option("profile", ProfileOption),
    _option("output", OutputOption, Output.table),
]


def client_command(
    app: typer.Typer, name: str | None = None
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Register `fn(session, ...)` on `app` with the common options added."""

    def register(fn: Callable[..., T]) -> Callable[..., T]:
        own = list(inspect.signature(fn).parameters.values())[1:]

        @functools.wraps(fn)
        def command(
            *args: Any,
            url: str | None,
            token: str | None,
            profile: str | None,
            output: Output,
            **kwargs: Any,
        ) -> T:
            with failures_to_exit():
                try:
                    target = Target.resolve(url, token, profile)
                except KeyError as error:
                    raise CliFailure(str(error), ExitCode.USAGE) from None
                return fn(Session(target, output), *args, **kwargs)

        del command.__wrapped__  # typer must read the signature below
        command.__signature__ = inspect.Signature(own + COMMON)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in own + COMMON}
        app.command(name)(command)
        return fn

    return register
