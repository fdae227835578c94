"""promtool on the shipped config, rules and rule unit tests."""

import shutil
import subprocess

import pytest

from tests.integration.prometheus.promql import PROMETHEUS

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool missing: apt-get install -y prometheus (the Makefile does)",
)


def promtool(*args: str) -> str:
    result = subprocess.run(
        [PROMTOOL or "promtool", *args],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_config_is_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_rules_are_valid() -> None:
    assert "SUCCESS: 17 rules found" in promtool("check", "rules", "alerts.yml")


def test_every_alert_fires_and_clears() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_every_alert_is_unit_tested_and_has_a_runbook_section() -> None:
    import yaml  # noqa: PLC0415

    from tests.integration.prometheus.promql import ROOT, alert_exprs  # noqa: PLC0415

    tested = {
        test["alert_rule_test"][0]["alertname"]
        for test in yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())[
            "tests"
        ]
    }
    assert tested == set(alert_exprs())
    runbook = (ROOT / "docs" / "RUNBOOK.md").read_text()
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert f"### {anchor}\n" in runbook, rule["alert"]
