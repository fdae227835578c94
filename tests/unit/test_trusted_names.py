"""ESPER_ALLOW_IMPORT_PATHS (SECURITY.md): `*` by default only in local mode, an
explicit value wins; prefixes match whole module names; the engine resolves
built-ins and entry-point plug-ins and refuses the rest before importing."""

import sys
from pathlib import Path

import pytest

from api_schemas.plugins import import_path_allowed, import_prefixes, is_import_path
from app.settings import Settings
from workers.engine.policy.loader import load_policy
from workers.engine.registry import UnknownName, resolve
from workers.settings import WorkerSettings


def test_defaults_any_in_local_mode_none_elsewhere_and_explicit_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ESPER_ALLOW_IMPORT_PATHS", raising=False)
    assert import_prefixes(None, local_mode=True) == ["*"]
    assert import_prefixes(None, local_mode=False) == []
    assert import_prefixes("", local_mode=True) == []
    assert import_prefixes(" tests., load ", local_mode=False) == ["tests.", "load"]
    for settings in (Settings, WorkerSettings):
        assert settings(local_mode=True).import_prefixes == ["*"]
        assert settings(local_mode=False).import_prefixes == []
        assert settings(local_mode=True, allow_import_paths="").import_prefixes == []


def test_prefixes_match_whole_module_names() -> None:
    assert import_path_allowed("tests.unit.x:f", ["tests."])
    assert import_path_allowed("load:f", ["load"])
    assert import_path_allowed("load.a:f", ["load"])
    assert not import_path_allowed("loadevil:f", ["load"])
    assert not import_path_allowed("os:abort", ["tests.", "load."])
    assert import_path_allowed("os:abort", ["*"])
    assert not is_import_path("digits") and not is_import_path("a..b:f")


def test_the_engine_refuses_before_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "esper_unit_probe.py").write_text("raise SystemExit('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownName, match="does not allow"):
        resolve("esper_unit_probe:f", "task", {}, "esper.tasks", prefixes=[])
    assert "esper_unit_probe" not in sys.modules
    monkeypatch.setenv("ESPER_ALLOW_IMPORT_PATHS", "")
    with pytest.raises(ValueError, match="does not allow"):
        load_policy("os:abort")


def test_an_entry_point_plugin_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "esper_unit_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: esper-unit-plugin\n")
    (dist / "entry_points.txt").write_text(
        "[esper.policies]\n"
        "unit-policy = workers.engine.policy.heuristic:HeuristicPolicy\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ESPER_ALLOW_IMPORT_PATHS", "")
    assert type(load_policy("unit-policy")).__name__ == "HeuristicPolicy"
