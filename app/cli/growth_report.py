"""What growth added to a finished run, in one line for the terminal.

Read from the API as any client would, once its history is recorded: the
run (its final parameter count and validation accuracy), its seed lineage
(which seeds fossilised, their parameters) and its validation accuracy history
(the accuracy before the first seed germinated).
"""

from typing import Any

import httpx

from app.cli.recorded import STATE_PACKETS, wait_recorded

VAL_ACC = "tolaria.validation.accuracy"


def growth_line(client: httpx.Client, run: dict[str, Any]) -> str:
    """`growth: ...` describing what the run's seeds added, or that none grew."""
    run_id = run["id"]

    def states() -> list[object]:
        page = _get(client, f"/api/v1/runs/{run_id}/telemetry", params=STATE_PACKETS)
        return [p.get("value") for p in (page or {}).get("items", [])]

    # The lineage trails the run's state on a loaded gateway (recorded.py).
    wait_recorded(states, timeout_s=15)
    seeds = _get(client, f"/api/v1/runs/{run_id}/seeds") or []
    if not seeds:
        return "growth: no seed germinated (the policy saw nothing to add)"
    fossils = [s for s in seeds if s["outcome"] == "fossilised"]
    culled = sum(1 for s in seeds if s["outcome"] == "culled")
    tally = f"{len(fossils)} of {len(seeds)} seeds fossilised, {culled} culled"
    if not fossils:
        return f"growth: {tally}; nothing added"
    names = ", ".join(f"{s['blueprint']} at {s['slot']}" for s in fossils)
    added = sum(int(s["params"]) for s in fossils)
    parts = [f"growth: {tally} ({names})"]
    total = (run.get("result") or {}).get("params")
    if isinstance(total, int):
        parts.append(f"params {total - added} -> {total} (+{added})")
    first = min(int(s["germinated_step"]) for s in seeds)
    before = _accuracy_before(client, run_id, first)
    after = (run.get("metrics") or {}).get("val_accuracy")
    if before is not None and isinstance(after, int | float):
        parts.append(
            f"validation accuracy {before:.3f} before the first seed "
            f"(step {first}) -> {after:.3f} at the end"
        )
    return "; ".join(parts)


def _accuracy_before(client: httpx.Client, run_id: str, step: int) -> float | None:
    """The last validation accuracy at or before `step` (None if none was)."""
    page = _get(
        client,
        f"/api/v1/runs/{run_id}/telemetry",
        params={"names": VAL_ACC, "limit": 5000},
    )
    readings = [
        float(p["value"])
        for p in (page or {}).get("items", [])
        if p["step"] <= step and isinstance(p.get("value"), int | float)
    ]
    return readings[-1] if readings else None


def _get(client: httpx.Client, path: str, **kwargs: Any) -> Any:
    try:
        response = client.get(path, **kwargs)
    except httpx.HTTPError:
        return None  # the summary is a courtesy: never fail the command for it
    return response.json() if response.status_code == 200 else None
