"""Client: software an identity has never used."""

from __future__ import annotations

from detector.detectors import Client, Lifecycle, Location
from detector.detectors.client import client_family

from .conftest import (
    DAY,
    HOUR,
    OTHER_SUBNET,
    T0,
    feed,
    last_time,
    learner,
    make_event,
    routine,
    score,
)


def agent_service(agent: str = "vault-agent/1.17", days: int = 10):
    history = routine(days=days, per_hour=4, hours=range(24), weekdays_only=False, user_agent=agent)
    model = learner(Client())
    feed(model, history)
    return model, last_time(history)


def test_first_use_of_a_new_client_by_a_service_scores_high():
    model, end = agent_service()
    finding = score(model, make_event(end + HOUR, user_agent="python-requests/2.31"))
    assert finding is not None and finding.score >= 0.5
    assert "first use of client 'python-requests'" in finding.reason
    assert "vault-agent 100%" in finding.reason


def test_the_usual_client_in_a_new_version_is_not_new():
    model, end = agent_service()
    assert score(model, make_event(end + HOUR, user_agent="vault-agent/1.18.2")) is None


def test_an_identity_that_often_turns_up_with_new_clients_scores_lower():
    steady, end = agent_service()
    # A new tool every couple of hours.
    history = [
        make_event(T0 + i * 600.0, user_agent=f"tool-{i // 12}/1.0")
        for i in range(int(10 * DAY / 600))
    ]
    varied = learner(Client())
    feed(varied, history)
    probe = make_event(end + HOUR, user_agent="curl/8.4.0")
    assert 0.0 < score(varied, probe).score < score(steady, probe).score


def test_a_thiefs_client_does_not_become_the_identitys_own_at_once():
    model, end = agent_service()
    alarming = make_event(end + HOUR, user_agent="python-requests/2.31")
    alarming.risk = 0.95  # as the model sets it before learning: barely trusted
    model.detectors[0].learn_one(alarming, model.store.get("svc"))
    again = score(model, make_event(end + HOUR + 60, user_agent="python-requests/2.31"))
    assert again is not None


def test_events_without_a_user_agent_are_not_judged():
    model, end = agent_service()
    assert score(model, make_event(end + HOUR)) is None


def test_client_family_drops_versions_and_names_known_tools():
    assert client_family("vault-agent/1.17") == client_family("vault-agent/1.18.0")
    assert client_family("Mozilla/5.0 (Windows NT 10.0) Firefox/121.0") == "firefox"
    assert client_family("aws-cli/2.13.0 Python/3.11 botocore/2.4") == "aws-cli"
    assert client_family("") == "unknown"


def test_stale_token_from_home_weighs_less_than_from_elsewhere():
    history = routine(days=5, per_hour=4, hours=range(24), weekdays_only=False)
    model = learner(Location(), Lifecycle())
    feed(model, history)
    end = last_time(history)
    home = make_event(end + HOUR, metadata={"credential_state": "invalid"})
    away = make_event(
        end + HOUR, metadata={"credential_state": "invalid"}, geo=OTHER_SUBNET, ip="10.9.9.9"
    )
    at_home = score(model, home, "lifecycle")
    elsewhere = score(model, away, "lifecycle")
    assert at_home.score < elsewhere.score
    assert "likely a stale client" in at_home.reason
