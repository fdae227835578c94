"""Serves the dashboard: the page at `/`, its assets under `/dashboard/static/`.

The page is plain ES modules and CSS from the package (see static/), so there is
nothing to build and nothing to serve but files. Call `mount_dashboard(app)` from
`create_app()`; `router` alone serves only the page and the favicon.
"""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/dashboard/static"

# The page keeps an API token in sessionStorage, so it must never run script from
# anywhere else: everything is same-origin files, and WebSockets go to this host.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    # index.html names its assets without a version, so have browsers revalidate
    # it each time; StaticFiles answers the assets with ETags.
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def dashboard_page() -> FileResponse:
    """The operator dashboard (fleet and run views; routing is by URL hash)."""
    return FileResponse(
        STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS
    )


@router.get("/favicon.ico")
async def dashboard_favicon() -> FileResponse:
    """Browsers ask for /favicon.ico regardless of the page's <link rel=icon>."""
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "max-age=86400"},
    )


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard page and its static assets to the gateway."""
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="dashboard-static")
