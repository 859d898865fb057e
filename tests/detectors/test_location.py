"""Location: new countries, networks and cities; impossible travel; replayed credentials."""

from __future__ import annotations

from detector.detectors import Location
from detector.event import GeoInfo

from .conftest import (
    BERLIN,
    BILLING,
    DAY,
    HOUR,
    LOOPBACK,
    MINUTE,
    MUNICH,
    NEW_YORK,
    OTHER_SUBNET,
    PAYMENTS,
    SAO_PAULO,
    T0,
    cloud_address,
    feed,
    last_time,
    learner,
    make_event,
    routine,
    score,
)


def person_in_berlin() -> tuple:
    """Alice, four weeks of office hours from one Berlin network; the model and the end."""
    history = routine(
        days=28,
        per_hour=2,
        identity="alice",
        geo=BERLIN,
        ip="89.0.142.20",
        credential="acc-alice",
    )
    model = learner(Location())
    feed(model, history)
    return model, last_time(history)


def service_on_private_network() -> tuple:
    history = routine(
        days=14,
        per_hour=6,
        hours=range(24),
        weekdays_only=False,
        identity="pay",
        service=PAYMENTS,
        network_owner=PAYMENTS,
        credential="acc-pay",
    )
    model = learner(Location())
    feed(model, history)
    return model, last_time(history)


def alice(time: float, geo=BERLIN, credential: str = "acc-alice-2", **fields):
    return make_event(time, "alice", geo=geo, ip="198.51.100.7", credential=credential, **fields)


def test_first_access_from_new_country_scores_high():
    model, end = person_in_berlin()
    finding = score(model, alice(end + 2 * DAY, SAO_PAULO))
    assert finding is not None and finding.score >= 0.6
    assert "first access from BR for alice" in finding.reason
    assert "seen before: Berlin, DE" in finding.reason
    assert finding.instant == 0.0, "novelty is judged against history"


def test_known_network_scores_nothing():
    model, end = person_in_berlin()
    assert score(model, alice(end + 2 * DAY, BERLIN)) is None


def test_new_city_in_a_known_country_scores_less_than_a_new_country():
    model, end = person_in_berlin()
    munich = score(model, alice(end + 2 * DAY, MUNICH))
    brazil = score(model, alice(end + 2 * DAY, SAO_PAULO))
    assert munich is not None and brazil is not None
    assert munich.score < brazil.score
    assert "first access from Munich, DE" in munich.reason
    assert "places seen before: Berlin" in munich.reason


def test_impossible_travel_is_reported_with_speed():
    model, end = person_in_berlin()
    finding = score(model, alice(end + 30 * MINUTE, SAO_PAULO))
    assert finding is not None and finding.instant >= 0.9
    assert "impossible travel" in finding.reason
    assert "Berlin, DE" in finding.reason and "São Paulo, BR" in finding.reason
    assert "km/h" in finding.reason
    assert "30 min" in finding.reason
    assert finding.reason.index("impossible travel") == 0, "the strongest reason comes first"


def test_travel_at_airliner_speed_is_possible():
    model, end = person_in_berlin()
    finding = score(model, alice(end + 10 * HOUR, NEW_YORK))  # ~6,400 km in 10 h
    assert finding is not None, "still a new country"
    assert "impossible travel" not in finding.reason
    assert finding.instant == 0.0


def test_nearby_places_within_the_accuracy_radius_are_not_travel():
    model, end = person_in_berlin()
    finding = score(model, alice(end + 10 * MINUTE, MUNICH))  # ~500 km, minus the radii
    assert finding is not None
    assert "impossible travel" not in finding.reason


def test_credential_replayed_from_a_new_public_network_is_instant():
    model, end = service_on_private_network()
    replayed = make_event(end + MINUTE, "pay", geo=NEW_YORK, ip="8.8.4.4", credential="acc-pay")
    finding = score(model, replayed)
    assert finding is not None and finding.instant >= 0.85
    assert "credential acc-pay" in finding.reason
    assert "after private network 10.1.0.0/16" in finding.reason
    fresh = make_event(end + MINUTE, "pay", geo=NEW_YORK, ip="8.8.4.4", credential="acc-other")
    assert score(model, fresh).instant < finding.instant, "a new credential is not a replay"


def test_credential_seen_long_ago_on_another_network_is_not_a_replay():
    model, end = service_on_private_network()
    later = make_event(end + HOUR, "pay", geo=NEW_YORK, ip="8.8.4.4", credential="acc-pay")
    finding = score(model, later)
    assert finding is not None
    assert "credential acc-pay" not in finding.reason
    assert finding.instant == 0.0


def test_credential_replayed_from_a_new_private_network_weighs_less_than_from_public():
    model, end = service_on_private_network()
    private = score(model, make_event(end + MINUTE, "pay", geo=OTHER_SUBNET, credential="acc-pay"))
    public = score(model, make_event(end + MINUTE, "pay", geo=NEW_YORK, credential="acc-pay"))
    assert 0.0 < private.instant < public.instant


def test_first_public_address_of_a_private_only_service_scores_high():
    model, end = service_on_private_network()
    finding = score(model, make_event(end + HOUR, "pay", geo=NEW_YORK, credential="acc-2"))
    assert finding is not None and finding.score >= 0.8
    assert "first access from a public address (US)" in finding.reason
    assert "only from private networks (10.1.0.0/16" in finding.reason


def test_credential_used_from_another_services_network():
    model, end = service_on_private_network()
    stolen = make_event(
        end + HOUR,
        "pay",
        service=PAYMENTS,
        network_owner=BILLING,
        ip="10.2.7.7",
        geo=OTHER_SUBNET,
    )
    finding = score(model, stolen)
    assert finding is not None and finding.instant >= 0.5
    assert "payments-api's credential used from billing's network (10.2.7.7)" in finding.reason
    own = make_event(end + HOUR, "pay", service=PAYMENTS, network_owner=PAYMENTS)
    assert score(model, own) is None


def test_another_services_network_the_identity_always_uses_is_not_suspicious():
    """The inventory says billing owns it, but payments has used it for weeks: history wins."""
    model, end = service_on_private_network()
    usual = make_event(end + HOUR, "pay", service=PAYMENTS, network_owner=BILLING, ip="10.1.7.7")
    assert score(model, usual) is None


def test_credential_used_from_another_services_network_needs_no_history():
    model = learner(Location())
    stolen = make_event(T0, "pay", service=PAYMENTS, network_owner=BILLING, ip="10.1.7.7")
    finding = score(model, stolen)
    assert finding is not None and finding.instant >= 0.5


def test_ci_on_ever_changing_cloud_addresses_scores_low_on_new_network():
    runs = [
        make_event(T0 + i * HOUR, "ci", geo=cloud_address(i), ip="3.0.0.1", credential=f"c{i}")
        for i in range(300)
    ]
    ci = learner(Location())
    feed(ci, runs)
    new_for_ci = score(ci, make_event(T0 + 301 * HOUR, "ci", geo=cloud_address(999)))
    model, end = service_on_private_network()
    new_for_service = score(model, make_event(end + HOUR, "pay", geo=OTHER_SUBNET, credential="x"))
    assert new_for_ci is not None and new_for_service is not None
    assert new_for_ci.score < 0.1
    assert new_for_service.score > 4 * new_for_ci.score


def test_new_country_still_stands_out_for_a_ci_runner():
    runs = [
        make_event(T0 + i * HOUR, "ci", geo=cloud_address(i), ip="3.0.0.1", credential=f"c{i}")
        for i in range(300)
    ]
    ci = learner(Location())
    feed(ci, runs)
    finding = score(ci, make_event(T0 + 320 * HOUR, "ci", geo=SAO_PAULO, credential="c-new"))
    assert finding is not None and finding.score >= 0.5
    assert "first access from BR for ci" in finding.reason


def test_addresses_that_are_no_place_are_ignored():
    model, end = person_in_berlin()
    assert score(model, alice(end + MINUTE, LOOPBACK, credential="acc-alice")) is None
    assert score(model, alice(end + MINUTE, None, credential="acc-alice")) is None
    assert score(model, alice(end + MINUTE, GeoInfo("none"))) is None
