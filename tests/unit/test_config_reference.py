"""docs/configuration.md documents every ESPER_* variable, and is current.

Two ways a setting goes undocumented: a field added to a settings class without
regenerating the document (the staleness test), and a variable read with
os.environ somewhere, or set in a deployment file, that no class or
OTHER_VARIABLES row declares (the scan of the tree).
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from app.settings import Settings
from tools.config_reference import Group, all_variables, render
from workers.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
THIS_FILE = Path(__file__).resolve()  # its examples below are not settings
# What the scan reads: the code, the tests, the benchmarks, and every file that
# sets variables for a deployment (infra/: compose, Kubernetes, Dockerfile).
SCANNED_TREES = ("app", "workers", "api_schemas", "esper", "load", "tests", "infra")
SCANNED_SUFFIXES = {".py", ".sh", ".yml", ".yaml", ".json", ".toml", ".env", ".js"}
SCANNED_FILES = ("Makefile", "pyproject.toml", "infra/Dockerfile")
NAME = re.compile(r"\bESPER_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
DOC_ROW = re.compile(r"^\| `(ESPER_[A-Z0-9_]+)` \|", re.MULTILINE)


def documented_names(text: str) -> set[str]:
    return set(DOC_ROW.findall(text))


def names_in(text: str) -> set[str]:
    return set(NAME.findall(text))


def scanned_files() -> Iterator[Path]:
    for tree in SCANNED_TREES:
        for path in (ROOT / tree).rglob("*"):
            if (
                path.is_file()
                and path != THIS_FILE
                and (path.suffix in SCANNED_SUFFIXES or path.name == "Dockerfile")
            ):
                yield path
    for name in SCANNED_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name


def test_committed_document_is_current() -> None:
    assert DOC.read_text() == render(), (
        "docs/configuration.md is stale: run `make config-doc` and commit it"
    )


@pytest.mark.parametrize("cls", [Settings, WorkerSettings])
def test_every_field_of_the_settings_classes_is_documented(
    cls: type[BaseSettings],
) -> None:
    documented = documented_names(DOC.read_text())
    fields = {f"ESPER_{name.upper()}" for name in cls.model_fields}
    assert fields - documented == set()


def test_every_field_has_a_description() -> None:
    missing = [v.name for v in all_variables() if not v.description.strip()]
    assert missing == []


def test_a_setting_both_processes_read_is_declared_alike() -> None:
    """A shared name with another default or type in one class would make the
    gateway and the worker disagree about one environment."""
    gateway, worker = Settings.model_fields, WorkerSettings.model_fields
    for name in gateway.keys() & worker.keys():
        g, w = gateway[name], worker[name]
        assert g.annotation == w.annotation, name
        assert g.get_default(call_default_factory=True) == w.get_default(
            call_default_factory=True
        ), name
        assert g.description == w.description, name


def test_every_variable_named_in_the_tree_is_documented() -> None:
    documented = documented_names(DOC.read_text())
    undocumented: dict[str, list[str]] = {}
    for path in scanned_files():
        for name in names_in(path.read_text(errors="replace")) - documented:
            undocumented.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert undocumented == {}, (
        "ESPER_* variables read or set but not in docs/configuration.md: add a "
        "settings field (or an OTHER_VARIABLES row in tools/config_reference.py), "
        "then `make config-doc`"
    )


def test_the_scan_finds_variables_where_code_reads_them() -> None:
    """The scan's pattern against the ways code names a variable."""
    text = (
        'os.environ.get("ESPER_NEW_KNOB", "1")\n'
        "env ESPER_OTHER=2 esper gateway\n"
        "- name: ESPER_IN_YAML\n"
        "prefix ESPER_ alone and ESPER ADMIN TOKEN are not names\n"
    )
    assert names_in(text) == {"ESPER_NEW_KNOB", "ESPER_OTHER", "ESPER_IN_YAML"}
    assert "ESPER_NEW_KNOB" not in documented_names(DOC.read_text())


def test_document_groups_by_process() -> None:
    text = DOC.read_text()
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        g.value for g in Group if any(v.group is g for v in all_variables())
    ]
    gateway_only = text.split(f"## {Group.GATEWAY.value}")[1].split("## ")[0]
    assert "`ESPER_DATABASE_URL`" in gateway_only
    assert "`ESPER_CPU_THREADS`" not in gateway_only
