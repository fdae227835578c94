"""The committed API documents (clients/openapi.json, clients/asyncapi.json).

`python -m app.contract DIR` writes both from the app itself; `make clients`
runs it and then regenerates the SDKs from them. A test compares the committed
files with what the app serves, so the contract cannot drift from the code
without the clients being regenerated.
"""

import json
import sys
from pathlib import Path
from typing import Any

OPENAPI_FILE = "openapi.json"
ASYNCAPI_FILE = "asyncapi.json"


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as GET /openapi.json serves it."""
    from app.main import create_app  # noqa: PLC0415 (imports the whole gateway)
    from app.settings import Settings  # noqa: PLC0415

    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


def asyncapi_document() -> dict[str, Any]:
    """The WebSocket API's AsyncAPI 3 document, as GET /asyncapi.json serves it."""
    from app.telemetry.asyncapi import build_asyncapi  # noqa: PLC0415

    return build_asyncapi()


def render(document: dict[str, Any]) -> str:
    """The committed form: two-space indent, key order kept, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_documents(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in (
        (OPENAPI_FILE, openapi_document()),
        (ASYNCAPI_FILE, asyncapi_document()),
    ):
        path = folder / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_documents(Path(sys.argv[1] if len(sys.argv) > 1 else "clients")):
        print(f"wrote {path}")
