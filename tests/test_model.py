"""The risk model: prequential scoring, no learning from what it would revoke, bounded state."""

from __future__ import annotations

import itertools
import pickle
from typing import Any, ClassVar

import pytest

from detector.detectors import (
    Finding,
    Lifecycle,
    Location,
    Multivariate,
    Resource,
    TimeOfWeek,
    Volume,
)
from detector.detectors.location import credential_key
from detector.event import AccessEvent, EnrichedEvent, GeoInfo, Sensitivity
from detector.model import RiskModel
from detector.scoring import REVOKE, Learning, Scorer
from detector.state import IdentityState, IdentityStore

T0 = 1704067200.0  # a Monday, 00:00 UTC
HOUR = 3600.0
DAY = 86400.0
BERLIN = GeoInfo(
    "public", network="89.0.142.0/24", country="DE", city="Berlin", latitude=52.52, longitude=13.4
)
SAO_PAULO = GeoInfo(
    "public",
    network="177.67.80.0/24",
    country="BR",
    city="São Paulo",
    latitude=-23.5,
    longitude=-46.6,
)
#: The default profile's weights (models/default.toml).
WEIGHTS = {
    "time": 0.45,
    "location": 0.9,
    "volume": 0.9,
    "resource": 0.75,
    "lifecycle": 0.95,
    "multivariate": 0.4,
}
_ids = itertools.count()


def event(time: float, identity: str = "alice", geo: GeoInfo = BERLIN, **fields: Any):
    fields.setdefault("resource", "secret/data/team/wiki")
    fields.setdefault("action", "read")
    fields.setdefault("credential", "acc-alice")
    access = AccessEvent(
        event_id=f"e{next(_ids)}", time=time, source="vault", identity=identity, **fields
    )
    return EnrichedEvent(access, geo=geo, sensitivity=Sensitivity("low", 0.1))


def office_weeks(weeks: int = 2) -> list[EnrichedEvent]:
    """Alice on weekdays, 09:00-17:00 UTC, four reads an hour from Berlin."""
    return [
        event(T0 + day * DAY + hour * HOUR + k * 900, resource=f"secret/data/team/{k}")
        for day in range(7 * weeks)
        if day % 7 < 5
        for hour in range(9, 17)
        for k in range(4)
    ]


def full_model(store: IdentityStore | None = None) -> RiskModel:
    detectors = [
        TimeOfWeek(),
        Location(),
        Volume(),
        Resource(),
        Lifecycle(),
        Multivariate(n_trees=3, height=4, window_size=20, warm_up=50, seed=1),
    ]
    scorer = Scorer(WEIGHTS, alert=0.6, revoke=0.9, learning=Learning())
    if store is None:  # not `store or ...`: an empty store is falsy (it has a length)
        store = IdentityStore(30 * DAY, 1000)
    return RiskModel(detectors, scorer, store)


def theft(time: float) -> EnrichedEvent:
    """Alice's credential, a minute after her last call, from Brazil, as root."""
    return event(
        time,
        geo=SAO_PAULO,
        resource="kv/data/admin/root",
        policies=("root",),
    )


def baseline(model: RiskModel, identity: str) -> bytes:
    """Everything learned about ``identity`` and the detectors' shared state, as bytes.

    Leaves out the short-term context (the current volume window, each credential's last
    network) and the event count, which follow every event.
    """
    state = model.store.get(identity)
    loc, vol = state.location, state.volume
    return pickle.dumps(
        (
            state.learned,
            state.first_seen,
            state.time,
            state.resource,
            state.lifecycle,
            state.extra,
            loc.places,
            loc.networks,
            loc.fix,
            state.client,
            vol.windows,
            vol.moments,
            vol.hourly,
            model.detectors,
        )
    )


# -- learning only from what is trusted --------------------------------------------------


def test_a_thief_does_not_teach_the_model():
    model = full_model()
    history = office_weeks()
    for e in history:
        model.process(e)
    end = history[-1].event.time
    before = baseline(model, "alice")
    state = model.store.get("alice")
    events, requests = state.events, state.volume.requests

    first = model.process(theft(end + 60))
    assert first.risk >= 0.9 and first.decision == REVOKE
    assert baseline(model, "alice") == before, "learned state changed"
    assert state.events == events + 1
    assert state.volume.requests == requests + 1, "the window still counts it"
    assert state.location.credentials[credential_key("acc-alice")][0] == SAO_PAULO.network

    second = model.process(theft(end + 120))
    assert second.risk >= first.risk * 0.99, "the second theft is as alarming as the first"
    assert baseline(model, "alice") == before


def test_ordinary_events_are_learned():
    model = full_model()
    history = office_weeks()
    for e in history:
        model.process(e)
    before = baseline(model, "alice")
    learned = model.store.get("alice").learned
    assessment = model.process(event(history[-1].event.time + 600))
    assert assessment.risk < 0.9
    assert model.store.get("alice").learned == learned + 1
    assert baseline(model, "alice") != before


class Fixed:
    """A detector that says the same thing about every event and records the calls."""

    name: ClassVar[str] = "fixed"

    def __init__(self, score: float) -> None:
        self.score = score
        self.calls: list[tuple[str, int]] = []

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        self.calls.append(("score", state.learned))
        return Finding(self.name, self.score, "always", instant=self.score)

    def observe_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        self.calls.append(("observe", state.learned))

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        self.calls.append(("learn", state.learned))


def fixed_model(score: float) -> tuple[RiskModel, Fixed]:
    detector = Fixed(score)
    scorer = Scorer({"fixed": 1.0}, alert=0.5, revoke=0.75)
    return RiskModel([detector], scorer, IdentityStore(DAY, 10)), detector


@pytest.mark.parametrize(("score", "learns"), [(0.7499, True), (0.75, False), (0.9, False)])
def test_event_at_or_above_the_revoke_threshold_is_observed_but_not_learned(score, learns):
    model, detector = fixed_model(score)
    assessment = model.process(event(T0))
    assert (assessment.risk < 0.75) is learns
    steps = [step for step, _ in detector.calls]
    assert steps == (["score", "observe", "learn"] if learns else ["score", "observe"])
    state = model.store.get("alice")
    assert state.learned == int(learns)
    assert state.events == 1


def test_scoring_sees_the_state_before_the_event_is_learned():
    model, detector = fixed_model(0.1)
    for i in range(3):
        model.process(event(T0 + i))
    assert detector.calls == [
        ("score", 0),
        ("observe", 0),
        ("learn", 0),
        ("score", 1),
        ("observe", 1),
        ("learn", 1),
        ("score", 2),
        ("observe", 2),
        ("learn", 2),
    ]


# -- bounded state -----------------------------------------------------------------------


def test_identities_idle_longer_than_idle_ttl_are_evicted():
    model = full_model(IdentityStore(idle_ttl=DAY, max_identities=100))
    model.process(event(T0, "a"))
    model.process(event(T0 + HOUR, "b"))
    model.process(event(T0 + DAY + 2 * HOUR, "c"))
    assert model.store.get("a") is None and model.store.get("b") is None
    assert model.store.get("c") is not None
    assert model.store.evicted == 2
    model.process(event(T0 + DAY + 3 * HOUR, "a"))
    assert model.store.get("a").learned == 1, "an evicted identity starts over"


def test_store_never_exceeds_max_identities():
    model = full_model(IdentityStore(idle_ttl=365 * DAY, max_identities=5))
    for i in range(40):
        model.process(event(T0 + 60 * i, f"id{i % 12}"))
        assert len(model.store) <= 5
    assert [s.identity for s in model.store] == [f"id{i % 12}" for i in range(35, 40)]


def test_recently_active_identity_survives_a_crowd():
    model = full_model(IdentityStore(idle_ttl=365 * DAY, max_identities=5))
    for i in range(40):
        model.process(event(T0 + 60 * i, "regular"))
        model.process(event(T0 + 60 * i + 30, f"passer-by-{i}"))
    regular = model.store.get("regular")
    assert regular is not None and regular.learned == 40
