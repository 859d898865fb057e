"""``detector demo``: simulate, score and show incidents and the table, end to end."""

from __future__ import annotations

import orjson

from detector.incidents import IncidentGrouper
from detector.parsers.timestamps import parse_timestamp

from .conftest import detector


def test_demo_simulates_scores_and_shows_incidents_and_the_table(tmp_path):
    out = tmp_path / "demo"
    result = detector("demo", "--days", "4", "--out", out, "--show", "3")
    assert result.exit_code == 0, result.output
    for name in ("audit.log", "labels.jsonl", "inventory.toml", "alerts.jsonl", "summary.json"):
        assert (out / name).is_file(), name
    summary = orjson.loads((out / "summary.json").read_bytes())
    alerts = [orjson.loads(line) for line in (out / "alerts.jsonl").read_bytes().splitlines()]
    assert len(alerts) == summary["alerts"] > 0

    grouper = IncidentGrouper()
    for alert in alerts:
        grouper.add(alert, parse_timestamp(alert["time"]))
    incidents = len(grouper.incidents)
    output = " ".join(result.output.split())  # rich wraps long lines at its width
    assert "Simulated 4 days" in output
    assert f"Scored {summary['scored']:,} events" in output
    assert f"{summary['alerts']:,} alerts" in output
    assert f"in {incidents} incidents" in output
    shown = output.count("ALERT risk ") + output.count("REVOKE risk ")
    assert shown == min(3, incidents)
    if incidents > 3:
        assert f"and {incidents - 3} more incidents" in output
    assert "Detection by scenario" in output
    labels = [orjson.loads(line) for line in (out / "labels.jsonl").read_bytes().splitlines()]
    for scenario in {label["scenario"] for label in labels}:
        assert scenario in output
    assert "simulation label:" in output
