"""``detector eval``: the per-scenario table, the JSON report, and errors."""

from __future__ import annotations

import orjson
import pytest

from .conftest import detector, failed_cleanly


def labels(simulated) -> list[dict]:
    return [orjson.loads(line) for line in simulated.labels.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def report(simulated) -> dict:
    result = detector("eval", simulated.audit_log, simulated.labels, "--json", "-")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.output)


def test_eval_prints_a_row_per_scenario_and_the_false_alert_line(simulated):
    result = detector("eval", simulated.audit_log, simulated.labels)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the caption wraps
    assert "Detection by scenario" in text
    for scenario in {label["scenario"] for label in labels(simulated)}:
        assert scenario in text
    assert "false alerts" in text and "per 10,000 benign events" in text


def test_json_report_has_every_scenario_and_instance(simulated, report):
    written = labels(simulated)
    assert set(report["scenarios"]) == {label["scenario"] for label in written}
    instances = {label["instance"] for label in written}
    assert sum(row["instances"] for row in report["scenarios"].values()) == len(instances)
    assert {i["instance"] for i in report["instances"]} == instances
    assert sum(row["events"] for row in report["scenarios"].values()) <= len(written)
    assert report["all_caught"] == all(i["caught"] for i in report["instances"])


def test_json_report_false_alert_rate_follows_from_its_counts(report):
    assert report["false_alerts_per_10k_benign"] == pytest.approx(
        1e4 * report["false_alerts"] / report["benign_events"], abs=1e-3
    )
    assert report["false_alerts_per_day"] == pytest.approx(
        report["false_alerts"] / report["days"], rel=1e-2
    )
    attack_events = sum(row["events"] for row in report["scenarios"].values())
    assert report["benign_events"] + attack_events == report["scored_events"]


def test_json_to_a_file_is_the_same_report_beside_the_table(simulated, report, tmp_path):
    path = tmp_path / "report.json"
    result = detector("eval", simulated.audit_log, simulated.labels, "--json", path)
    assert result.exit_code == 0, result.output
    assert "Detection by scenario" in result.output
    assert orjson.loads(path.read_bytes()) == report  # a replay gives the same result


def test_bad_pipeline_names_the_file_and_the_key(simulated, tmp_path):
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text('name = "p"\n[thresholds]\nalert = 2\n')
    result = detector("eval", simulated.audit_log, simulated.labels, "--pipeline", pipeline)
    assert failed_cleanly(result)
    assert f"{pipeline}: thresholds.alert: must be between 0 and 1" in result.output


def test_missing_log_is_a_usage_error(simulated, tmp_path):
    result = detector("eval", tmp_path / "absent.log", simulated.labels)
    assert result.exit_code == 2
    assert "absent.log" in result.output and "Traceback" not in result.output
