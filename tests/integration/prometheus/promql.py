"""PromQL expressions Esper ships: every alert rule and every dashboard target."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "infra" / "prometheus"
DASHBOARD = ROOT / "infra" / "grafana" / "dashboards" / "esper.json"
# Label lists (`by (a, b)`) and matchers (`{a="b"}`) are dropped first; what is
# left that is not a function call or a duration is a series name.
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)|\{[^}]*\}")
_NAME = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")


def alert_exprs() -> dict[str, str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule["expr"] for g in groups for rule in g["rules"]}


def panel_exprs() -> dict[str, list[str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {
        p["title"]: [t["expr"] for t in p.get("targets", [])]
        for p in panels
        if p.get("type") != "row"
    }


def series_names(expr: str) -> set[str]:
    """Metric names an expression reads (histogram names as their _bucket etc.)."""
    bare = _GROUPING.sub(" ", expr)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # range durations: [5m]
    return set(_NAME.findall(bare))
