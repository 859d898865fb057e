"""The scoreboard: attacks caught and how fast, false alerts apart from collateral ones."""

from __future__ import annotations

import pytest

from detector.detectors.base import Finding
from detector.evaluation import Scoreboard, read_labels
from detector.event import AccessEvent, EnrichedEvent
from detector.pipeline import ScoredEvent
from detector.scoring import Assessment

T0 = 1_795_000_000.0
HOUR = 3600.0
DAY = 86400.0


def scored(
    event_id: str, identity: str, time: float, risk: float = 0.1, decision: str | None = None
) -> ScoredEvent:
    event = AccessEvent(event_id, time, "vault", identity, "read", "secret/data/x")
    finding = Finding("location", risk, f"risk {risk} for {event_id}")
    return ScoredEvent(EnrichedEvent(event), Assessment(risk, decision, [(risk, finding)]))


def board(labels: dict[str, tuple[str, str]], events: list[ScoredEvent], **options):
    scoreboard = Scoreboard(labels, **options)
    for event in events:
        scoreboard.observe(event)
    return scoreboard.finish()


def test_attack_is_caught_at_its_first_decision_counting_events_and_seconds():
    labels = {f"a{i}": ("impossible-travel", "impossible-travel-1") for i in range(4)}
    report = board(
        labels,
        [
            scored("a0", "alice", T0, risk=0.2),
            scored("b0", "bob", T0 + 5),
            scored("a1", "alice", T0 + 30, risk=0.4),
            scored("a2", "alice", T0 + 90, risk=0.7, decision="alert"),
            scored("a3", "alice", T0 + 95, risk=0.95, decision="revoke"),
        ],
    )
    (result,) = report.instances
    assert result.caught and result.revoked
    assert result.events == 4
    assert result.events_to_detect == 3
    assert result.seconds_to_detect == 90.0
    assert result.max_risk == 0.95
    assert result.first_reason == "risk 0.7 for a2"
    assert report.all_caught


def test_attack_without_a_decision_is_missed():
    labels = {"a0": ("root-token-use", "root-1"), "a1": ("root-token-use", "root-1")}
    report = board(labels, [scored("a0", "alice", T0, 0.5), scored("a1", "alice", T0 + 1, 0.4)])
    (result,) = report.instances
    assert not result.caught and not result.revoked
    assert result.events_to_detect is None and result.seconds_to_detect is None
    assert result.max_risk == 0.5
    assert not report.all_caught


def test_labelled_attack_never_scored_counts_as_missed():
    labels = {"a0": ("password-spray", "spray-1"), "z9": ("ci-token-abuse", "ci-1")}
    report = board(labels, [scored("a0", "eve", T0, 0.9, "revoke")])
    by_instance = {r.instance: r for r in report.instances}
    assert by_instance["spray-1"].caught
    assert by_instance["ci-1"].events == 0 and not by_instance["ci-1"].caught


def test_benign_alerts_on_the_victim_during_its_attack_and_an_hour_after_are_collateral():
    labels = {"a0": ("stolen", "stolen-1"), "a1": ("stolen", "stolen-1")}
    events = [
        scored("x-before", "alice", T0 - 1, 0.7, "alert"),  # before the attack: false
        scored("a0", "alice", T0, 0.8, "alert"),
        scored("x-during", "alice", T0 + 60, 0.7, "alert"),  # collateral
        scored("a1", "alice", T0 + 120, 0.8, "alert"),
        scored("x-hour", "alice", T0 + 120 + HOUR, 0.7, "alert"),  # collateral, at the edge
        scored("x-after", "alice", T0 + 121 + HOUR, 0.7, "revoke"),  # false
        scored("x-other", "bob", T0 + 60, 0.7, "alert"),  # another identity: false
    ]
    report = board(labels, events)
    assert report.collateral_alerts == 2
    assert report.false_alerts == 3
    assert report.false_revokes == 1
    examples = {example["event_id"] for example in report.false_alert_examples}
    assert examples == {"x-before", "x-after", "x-other"}


def test_false_alert_rates_per_benign_events_and_per_day():
    events = [scored(f"b{i}", "svc", T0 + i * DAY / 999) for i in range(1000)]
    for i in (10, 20, 30, 40):
        events[i] = scored(f"b{i}", "svc", events[i].event.time, 0.7, "alert")
    report = board({}, events, examples=2)
    assert report.benign_events == 1000 == report.scored_events
    assert report.false_alerts == 4
    assert report.false_alerts_per_10k == pytest.approx(40.0)
    assert report.days == pytest.approx(1.0)
    assert report.false_alerts_per_day == pytest.approx(4.0)
    assert len(report.false_alert_examples) == 2
    assert report.to_dict()["false_alerts_per_10k_benign"] == 40.0


def test_scenarios_take_the_median_over_their_caught_instances():
    labels = {}
    events = []
    for n, to_detect in enumerate((1, 3, 8)):
        instance = f"probe-{n}"
        for i in range(10):
            labels[f"{instance}-{i}"] = ("permission-probing", instance)
            decided = "alert" if i + 1 == to_detect else None
            events.append(scored(f"{instance}-{i}", f"id{n}", T0 + 10 * i, 0.6, decided))
    labels["missed-0"] = ("password-spray", "missed")
    events.append(scored("missed-0", "eve", T0, 0.1))
    rows = board(labels, events).scenarios()
    assert rows["permission-probing"]["instances"] == 3
    assert rows["permission-probing"]["caught"] == 3
    assert rows["permission-probing"]["events"] == 30
    assert rows["permission-probing"]["events_to_detect"] == 3
    assert rows["permission-probing"]["seconds_to_detect"] == 20.0
    assert rows["password-spray"]["caught"] == 0
    assert rows["password-spray"]["events_to_detect"] is None


def test_finishing_twice_gives_the_same_report():
    labels = {"a0": ("stolen", "stolen-1")}
    scoreboard = Scoreboard(labels)
    for event in [scored("a0", "alice", T0, 0.8, "alert"), scored("x", "bob", T0, 0.7, "alert")]:
        scoreboard.observe(event)
    first = scoreboard.finish().to_dict()
    assert scoreboard.finish().to_dict() == first
    assert first["false_alerts"] == 1


def test_labels_file_names_scenario_and_instance(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"event_id": "e1", "scenario": "spray", "instance": "spray-2"}\n'
        "\n"
        '{"event_id": "e2", "scenario": "root-token-use"}\n'
    )
    assert read_labels(path) == {
        "e1": ("spray", "spray-2"),
        "e2": ("root-token-use", "root-token-use"),
    }
