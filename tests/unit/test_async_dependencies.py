"""Every dependency and endpoint of the gateway's own is `async def`.

FastAPI runs a plain `def` dependency or endpoint on a worker thread. The
hand-off there and back needs the GIL twice, and on a busy host it put
milliseconds on every authenticated request, an emergency halt's among them.
"""

import inspect
import sys
from collections.abc import Iterable, Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute

from app.main import create_app
from app.settings import Settings


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute | APIWebSocketRoute]:
    """The app's routes, through the routers it includes."""
    for route in routes:
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute | APIWebSocketRoute):
            yield route


def callables(dependant: Dependant) -> Iterator[object]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from callables(sub)


def runs_on_the_loop(call: object) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


def test_the_gateways_dependencies_and_endpoints_run_on_the_event_loop() -> None:
    interval = sys.getswitchinterval()  # create_app shortens it for its process
    try:
        app = create_app(Settings(local_mode=True, leyline_secret="s" * 32))
    finally:
        sys.setswitchinterval(interval)
    ours = {
        call
        for route in api_routes(app.router.routes)
        for call in callables(route.dependant)
        if getattr(call, "__module__", "").startswith("app.")
    }
    assert len(ours) > 20  # the walk reached the routers' endpoints and dependencies
    on_threads = sorted(
        f"{c.__module__}.{getattr(c, '__qualname__', c)}"
        for c in ours
        if not runs_on_the_loop(c)
    )
    assert on_threads == []
