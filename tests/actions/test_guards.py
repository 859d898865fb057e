"""The guards: what may be revoked automatically, what needs a person, what never."""

from __future__ import annotations

import pytest

from detector.actions.guards import ESCALATE, OFFER, PROTECT, REVOKE, Guards, StormCounts

NOW = 1_800_000_000.0
QUIET = StormCounts(0, 0)


def decide(guards: Guards, storm: StormCounts = QUIET, **overrides) -> tuple[str, str | None]:
    request = {
        "decision": "revoke",
        "identity": "ent-cart",
        "identity_name": "approle",
        "policies": ("cart", "default"),
        "service": "cart",
        "auto_revoke": True,
        "event_time": NOW - 5,
        "now": NOW,
        "storm": storm,
        **overrides,
    }
    verdict = guards.decide(**request)
    return verdict.route, verdict.reason


@pytest.fixture
def guards() -> Guards:
    return Guards(
        never_revoke_policies=["root", "break-glass*"],
        never_revoke_identities=["ent-alice", "ops-*"],
        storm_window=600,
        storm_limit=5,
        storm_limit_per_service=2,
        max_event_age=900,
    )


def test_a_revoke_decision_of_a_service_that_allows_it_is_revoked(guards):
    assert decide(guards) == (REVOKE, None)


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"policies": ("default", "root")}, "policy root"),
        ({"policies": ("break-glass-admin",)}, "policy break-glass-admin"),
        ({"identity": "ent-alice"}, "ent-alice"),
        ({"service": "ops-people"}, "ops-people"),
        ({"decision": "alert", "policies": ("root",)}, "policy root"),
    ],
)
def test_never_revoke_list_protects_root_break_glass_and_named_entities(guards, overrides, why):
    route, reason = decide(guards, **overrides)
    assert route == PROTECT and reason == f"on the never-revoke list: {why}"


def test_an_alert_is_only_an_offer(guards):
    assert decide(guards, decision="alert")[0] == OFFER


def test_without_the_inventory_permission_a_person_decides(guards):
    assert decide(guards, auto_revoke=False) == (
        ESCALATE,
        "cart's inventory entry does not allow auto-revocation",
    )
    assert decide(guards, service=None, auto_revoke=False)[0] == ESCALATE


def test_an_old_event_is_not_revoked_automatically(guards):
    route, reason = decide(guards, event_time=NOW - 3 * 3600)
    assert route == ESCALATE and reason.startswith("the event is 3 h old")


def test_an_event_dated_in_the_future_is_not_revoked_automatically(guards):
    route, reason = decide(guards, event_time=NOW + 7200)
    assert route == ESCALATE and "in the future" in reason


def test_storm_guard_counts_globally_and_per_service(guards):
    assert decide(guards, StormCounts(4, 1))[0] == REVOKE
    route, reason = decide(guards, StormCounts(5, 0))
    assert route == ESCALATE and "5 automatic revocations in the last 10 min (limit 5)" in reason
    route, reason = decide(guards, StormCounts(2, 2))
    assert route == ESCALATE and "of cart" in reason and "limit 2 per service" in reason


def test_a_zero_storm_limit_means_never_automatic():
    guards = Guards(storm_limit=0)
    assert decide(guards)[0] == ESCALATE
