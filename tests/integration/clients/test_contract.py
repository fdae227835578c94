"""The committed contract (clients/) is the app's: the OpenAPI and AsyncAPI
documents, and the SDKs generated from them by the pinned generators. Each
test fails when the code changed and `make clients` was not run."""

import filecmp
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema

from api_schemas.enums import PacketKind
from app.contract import (
    ASYNCAPI_FILE,
    OPENAPI_FILE,
    asyncapi_document,
    openapi_document,
    render,
)
from app.telemetry.asyncapi import CLOSE_CODES
from tests.fixtures.gateway import ROOT, secured_gateway
from tests.integration.clients.conftest import CLIENTS, TYPESCRIPT

REGENERATE = "run `make clients` and commit clients/"
# The sources whose WebSocket closes the document must list.
CLOSING_SOURCES = ("app/telemetry", "app/nul_guard.py", "app/origins.py")
CLOSE_CODE = re.compile(r'(?:code=|"code":\s*)(\d{4})')


def _committed(name: str) -> str:
    return (CLIENTS / name).read_text(encoding="utf-8")


def test_committed_openapi_is_the_apps() -> None:
    assert _committed(OPENAPI_FILE) == render(openapi_document()), REGENERATE


def test_committed_asyncapi_is_the_apps() -> None:
    assert _committed(ASYNCAPI_FILE) == render(asyncapi_document()), REGENERATE


def _asyncapi_validator(node_modules: Path) -> jsonschema.protocols.Validator:
    """The official AsyncAPI 3.0.0 JSON schema, from the npm package
    @asyncapi/specs pinned in clients/typescript/package-lock.json."""
    path = node_modules / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_asyncapi_is_valid_asyncapi_3(node_modules: Path) -> None:
    validator = _asyncapi_validator(node_modules)
    document = asyncapi_document()
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    # The validator is not vacuous: a channel without a string address fails.
    broken = {**document, "channels": {"x": {"address": 5}}}
    assert list(validator.iter_errors(broken))


def test_asyncapi_describes_every_frame_and_close_code() -> None:
    document = asyncapi_document()
    schemas = document["components"]["schemas"]
    assert set(schemas["PacketKind"]["enum"]) == {kind.value for kind in PacketKind}
    assert schemas["PongFrame"]["properties"]["type"]["const"] == "pong"
    assert "telemetry.gap" in document["components"]["messages"]["GapEvent"]["summary"]
    sent_codes: set[int] = set()
    for source in CLOSING_SOURCES:
        path = ROOT / source
        for file in path.rglob("*.py") if path.is_dir() else [path]:
            sent_codes |= {int(c) for c in CLOSE_CODE.findall(file.read_text())}
    assert {1000, 4401, 4403, 4404, 4408} <= sent_codes  # the scan finds them
    assert sent_codes <= set(CLOSE_CODES)
    for channel in document["channels"].values():
        assert set(channel["x-close-codes"]) == {str(c) for c in CLOSE_CODES}
        assert "?after=" in channel["description"]
        assert set(channel["bindings"]["ws"]["query"]["properties"]) == {
            "after",
            "names",
            "ticket",
        }


def test_generated_python_sdk_is_current(
    python_generator: Path, tmp_path: Path
) -> None:
    out = tmp_path / "esper_client"
    done = subprocess.run(
        [
            str(python_generator),
            "generate",
            "--path",
            str(CLIENTS / OPENAPI_FILE),
            "--meta",
            "none",
            "--output-path",
            str(out),
            "--config",
            str(CLIENTS / "python-client.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (out / "py.typed").touch()
    assert _differences(filecmp.dircmp(out, CLIENTS / "python" / "esper_client")) == []


def _differences(cmp: filecmp.dircmp[str]) -> list[str]:
    found = [f"{cmp.left}/{name}" for name in cmp.diff_files + cmp.left_only]
    found += [f"{cmp.right}/{name}" for name in cmp.right_only]
    found = [name for name in found if "__pycache__" not in name]
    for sub in cmp.subdirs.values():
        found += _differences(sub)
    return found


def test_generated_typescript_types_are_current(
    node_modules: Path, tmp_path: Path
) -> None:
    out = tmp_path / "schema.d.ts"
    script = json.loads((TYPESCRIPT / "package.json").read_text())["scripts"]
    argv = script["generate"].replace("src/schema.d.ts", str(out)).split()
    done = subprocess.run(
        ["npx", "--no-install", *argv],
        cwd=TYPESCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.read_text() == (TYPESCRIPT / "src" / "schema.d.ts").read_text()


def test_typescript_client_compiles_strict(typescript_build: Path) -> None:
    config: dict[str, Any] = json.loads((TYPESCRIPT / "tsconfig.json").read_text())
    assert config["compilerOptions"]["strict"] is True
    assert (typescript_build / "src" / "index.d.ts").exists()
    assert (typescript_build / "test" / "roundtrip.js").exists()


def test_documents_are_public_on_a_secured_gateway(
    redis_url: str, tmp_path: Path
) -> None:
    with (
        secured_gateway(redis_url, tmp_path, "admin-token-for-docs") as gateway,
        gateway.client() as client,
    ):
        assert client.get("/api/v1/runs").status_code == 401  # auth is on
        served = {
            name: client.get(f"/{name}") for name in (ASYNCAPI_FILE, OPENAPI_FILE)
        }
    for name, response in served.items():
        assert response.status_code == 200, name
        assert render(response.json()) == _committed(name)
