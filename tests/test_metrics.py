"""The Prometheus endpoint of a followed run: it answers, with the documented names and the
run's own counts; the README and the Grafana dashboard use those names only."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.errors import ConfigError
from detector.metrics import METRIC_NAMES, Metrics
from detector.parsers.timestamps import parse_timestamp
from detector.runtime.local import LocalRun

REPO = Path(__file__).resolve().parents[1]
VAULT = REPO / "pipelines" / "vault-local.toml"
POLL = 0.05


def scrape(address: tuple[str, int]) -> dict[tuple[str, tuple], float]:
    """``GET /metrics``: sample name and sorted labels -> value."""
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=5) as r:
        assert r.status == 200
        text = r.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted({"pipeline": "vault-local", **labels}.items()))))


def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def served():
    metrics = Metrics("vault-local")
    address = metrics.serve("127.0.0.1", 0)
    yield metrics, address
    metrics.close()


def test_a_followed_run_answers_scrapes_with_its_counts(simulated, tmp_path, served):
    metrics, address = served
    lines = simulated.audit_log.read_bytes().splitlines(keepends=True)[:600]
    broken = [b"not json\n"] * 5 + [b'{"type": "response"}\n'] * 2
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(lines[:300] + broken + lines[300:]))
    config = load_pipeline_file(VAULT)
    config.enrichers.service.inventory = str(simulated.inventory)
    run = LocalRun(build_pipeline(config), tmp_path / "out", None, 300.0, metrics=metrics)
    summary: dict = {}
    thread = threading.Thread(
        target=lambda: summary.update(run.run([str(log)], follow_sources=True, poll_interval=POLL))
    )
    thread.start()
    try:
        records = len(lines) + len(broken)
        assert eventually(lambda: value(scrape(address), "detector_records_total") == records)
        samples = scrape(address)
    finally:
        run.stop()
        thread.join(10.0)
    assert not thread.is_alive()
    scored = summary["scored"]
    assert value(samples, "detector_events_total", source="vault") == summary["events"]
    assert value(samples, "detector_scored_total") == scored
    assert value(samples, "detector_deadletters_total", reason="not JSON") == 5
    assert (
        sum(v for (name, _), v in samples.items() if name == "detector_deadletters_total")
        == summary["deadletters"]
    )
    for decision, count in summary["decisions"].items():
        assert value(samples, "detector_decisions_total", decision=decision) == (count or None)
    assert value(samples, "detector_processing_seconds_count") == scored
    assert value(samples, "detector_processing_seconds_sum") > 0  # no wall-clock bound here
    assert value(samples, "detector_identities") == summary["identities"]
    assert value(samples, "detector_state_bytes") > 1000 * summary["identities"]
    newest = value(samples, "detector_last_event_timestamp_seconds")
    assert newest == pytest.approx(parse_timestamp(summary["last_event"]), abs=60)
    assert value(samples, "detector_event_lag_seconds") == pytest.approx(
        time.time() - newest, abs=30
    )


def test_every_documented_metric_is_exported(served):
    _, address = served
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=5) as r:
        text = r.read().decode()
    declared = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    # prometheus_client adds a ``_created`` timestamp to counters and histograms
    assert {name for name in declared if not name.endswith("_created")} == set(METRIC_NAMES)


def test_metrics_have_their_own_registry():
    one, two = Metrics("vault-local"), Metrics("vault-local")  # no "duplicated timeseries"
    one.sync({"records": 10, "deadletter: not JSON": 2}, "vault")
    two.sync({"records": 3}, "vault")
    assert b'detector_records_total{pipeline="vault-local"} 10.0' in one.exposition()
    assert b'detector_records_total{pipeline="vault-local"} 3.0' in two.exposition()
    one.sync({"records": 15, "deadletter: not JSON": 2}, "vault")  # counts grow: deltas
    assert b'detector_records_total{pipeline="vault-local"} 15.0' in one.exposition()
    assert b'reason="not JSON"} 2.0' in one.exposition()


def test_the_readme_documents_every_metric():
    readme = (REPO / "README.md").read_text()
    missing = [name for name in METRIC_NAMES if f"`{name}`" not in readme]
    assert missing == []


def test_the_grafana_dashboard_is_built_on_the_documented_metrics():
    dashboard = json.loads((REPO / "monitoring" / "grafana-dashboard.json").read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    used = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for expr in expressions
        for name in re.findall(r"\bdetector_[a-z_]+", expr)
    }
    assert used <= set(METRIC_NAMES)
    # The operator's questions: is it reading, is it failing, is it keeping up, how big.
    for name in (
        "detector_events_total",
        "detector_deadletters_total",
        "detector_decisions_total",
        "detector_health_alerts_total",
        "detector_processing_seconds",
        "detector_consumer_lag",
        "detector_identities",
        "detector_state_bytes",
    ):
        assert name in used, name


@pytest.mark.parametrize("listen", ["9464", "localhost:port", ":9464", "host:70000"])
def test_a_bad_listen_address_is_rejected_naming_the_key(tmp_path, listen):
    path = tmp_path / "p.toml"
    profile = REPO / "models" / "default.toml"
    path.write_text(
        f'name = "p"\n[model]\nprofile = "{profile}"\n[metrics]\nenabled = true\n'
        f'listen = "{listen}"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_pipeline_file(path)
    assert error.value.key == "metrics.listen"
