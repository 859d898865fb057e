"""Incidents: one identity's alerts close in time are one story; others are not."""

from __future__ import annotations

from detector.incidents import IncidentGrouper

WINDOW = 1800.0


def alert(identity: str, risk: float = 0.7, **fields) -> dict:
    record = {
        "identity": identity,
        "risk": risk,
        "decision": "alert",
        "reasons": ["first access from BR"],
        "resource": "secret/data/x",
    }
    return {**record, **fields}


def test_alerts_of_one_identity_within_the_window_are_one_incident():
    grouper = IncidentGrouper(window=WINDOW)
    first = grouper.add(alert("cart"), 0.0)
    assert grouper.add(alert("cart"), WINDOW) is first  # a gap of exactly the window
    assert grouper.add(alert("cart"), 2 * WINDOW + 1) is not first
    assert len(grouper.incidents) == 2
    assert (first.first_time, first.last_time, len(first.alerts)) == (0.0, WINDOW, 2)


def test_window_counts_from_the_latest_alert_so_a_slow_burst_stays_one():
    grouper = IncidentGrouper(window=WINDOW)
    for minute in range(0, 300, 20):
        grouper.add(alert("cart"), minute * 60.0)
    (incident,) = grouper.incidents
    assert incident.last_time - incident.first_time > WINDOW
    assert len(incident.alerts) == 15


def test_identities_are_grouped_apart_even_when_interleaved():
    grouper = IncidentGrouper(window=WINDOW)
    for t in range(6):
        grouper.add(alert("cart" if t % 2 else "billing"), t * 60.0)
    assert sorted((i.identity, len(i.alerts)) for i in grouper.incidents) == [
        ("billing", 3),
        ("cart", 3),
    ]


def test_incident_shows_its_worst_alert_its_decision_reasons_and_resources():
    grouper = IncidentGrouper(window=WINDOW)
    grouper.add(alert("cart", 0.65, resource="secret/data/a"), 0.0)
    grouper.add(
        alert(
            "cart",
            0.95,
            decision="revoke",
            resource="secret/data/b",
            reasons=[
                "31 requests in 5 min; usual ~6.9",
                "29 distinct secrets; 31 requests in 5 min",
            ],
        ),
        60.0,
    )
    incident = grouper.add(alert("cart", 0.7, resource="secret/data/a"), 120.0)
    assert incident.worst["risk"] == 0.95
    assert incident.decision == "revoke"
    assert incident.reasons == ["31 requests in 5 min", "usual ~6.9", "29 distinct secrets"]
    assert incident.resources == ["secret/data/a", "secret/data/b"]


def test_incident_of_alerts_only_is_an_alert():
    grouper = IncidentGrouper()
    incident = grouper.add(alert("cart"), 0.0)
    assert incident.decision == "alert"


def test_an_alert_arriving_late_does_not_move_the_incident_back():
    grouper = IncidentGrouper(window=WINDOW)
    incident = grouper.add(alert("cart"), 1000.0)
    grouper.add(alert("cart"), 900.0)
    assert incident.last_time == 1000.0 and len(incident.alerts) == 2
