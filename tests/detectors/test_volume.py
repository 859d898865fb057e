"""Volume: request bursts, enumeration and denial bursts against the identity's own windows."""

from __future__ import annotations

import pickle
import random

from detector.detectors import Volume
from detector.model import RiskModel
from detector.scoring import Learning, Scorer
from detector.state import IdentityStore

from .conftest import (
    DAY,
    HOUR,
    MINUTE,
    T0,
    feed,
    last_time,
    learner,
    make_event,
    merge,
    routine,
    score,
)

TWO_SECRETS = ("secret/data/app/db", "secret/data/app/api")


def steady_service(days: int = 7) -> list:
    """One request every five minutes around the clock, alternating two secrets."""
    return routine(
        days=days, per_hour=12, hours=range(24), weekdays_only=False, resources=TWO_SECRETS
    )


def burst_scores(model, events) -> list[float]:
    """Score each event of a burst as it arrives (and let the model process it)."""
    volume = model.detectors[0]
    scores = []
    for event in events:
        finding = score(model, event)
        assert finding is None or finding.detector == volume.name
        scores.append(finding.score if finding else 0.0)
        model.process(event)
    return scores


def test_burst_far_above_the_hourly_baseline_scores_high():
    model = learner(Volume())
    history = steady_service()
    feed(model, history)
    start = last_time(history) + HOUR
    burst = [make_event(start + 5 * i, resource=TWO_SECRETS[i % 2]) for i in range(40)]
    scores = burst_scores(model, burst)
    assert scores[1] == 0.0, "two requests in a window is not a burst"
    assert scores[-1] >= 0.9
    assert scores == sorted(scores), "the score grows with the burst"
    finding = score(model, make_event(start + 250))
    assert f"{len(burst) + 1} requests in 5 min" in finding.reason
    assert "usual for this hour ~1" in finding.reason
    assert finding.instant == 0.0, "a burst is judged against history"


def test_usual_rate_after_a_burst_scores_nothing():
    model = learner(Volume())
    history = steady_service()
    feed(model, history)
    start = last_time(history) + 5 * MINUTE
    following = [make_event(start + 5 * MINUTE * i, resource=TWO_SECRETS[i % 2]) for i in range(24)]
    assert burst_scores(model, following) == [0.0] * 24


def busy_at_nine_quiet_at_three() -> list:
    """Ten requests per window at 09:00, one per window at 03:00, for two weeks."""
    busy = routine(days=14, per_hour=120, hours=[9], weekdays_only=False, resources=TWO_SECRETS)
    quiet = routine(days=14, per_hour=12, hours=[3], weekdays_only=False, resources=TWO_SECRETS)
    return merge(busy, quiet)


def test_baseline_is_per_hour_of_day():
    """The same fifteen requests are ordinary at 09:00 and a burst at 03:00."""
    history = busy_at_nine_quiet_at_three()
    day = T0 + 15 * DAY

    def fifteen_at(hour: int) -> float:
        model = learner(Volume())
        feed(model, history)
        return burst_scores(model, [make_event(day + hour * HOUR + 15 * i) for i in range(15)])[-1]

    assert fifteen_at(9) == 0.0
    assert fifteen_at(3) > 0.0


def test_busy_hours_elsewhere_do_not_mask_a_burst_at_a_quiet_hour():
    day = T0 + 15 * DAY
    burst = [make_event(day + 3 * HOUR + 20 * i) for i in range(10)]
    mixed = learner(Volume())
    feed(mixed, busy_at_nine_quiet_at_three())
    assert burst_scores(mixed, burst)[-1] >= 0.5


def test_burst_early_in_an_identitys_life_is_scored():
    """A few windows of history: the spread is widened, the burst still stands out."""
    model = learner(Volume())
    feed(model, [make_event(T0 + i * 10 * MINUTE) for i in range(4)])
    start = T0 + HOUR
    scores = burst_scores(model, [make_event(start + i) for i in range(60)])
    assert scores[0] == 0.0
    assert scores[-1] >= 0.5


def test_burst_above_a_variable_baseline_scores_lower_than_above_a_steady_one():
    """Over-dispersed history (counts vary a lot) makes the same burst less surprising."""
    rng = random.Random(3)
    variable = []
    for w in range(7 * 288):
        start = T0 + w * 5 * MINUTE
        variable += [make_event(start + i, "batchy") for i in range(rng.choice([1, 1, 1, 6]))]
    steady = [make_event(T0 + w * 5 * MINUTE + i, "steady") for w in range(7 * 288) for i in (0, 1)]
    model = learner(Volume())
    feed(model, sorted(variable + steady, key=lambda e: e.event.time))
    start = T0 + 7 * DAY + HOUR
    at_batchy = burst_scores(model, [make_event(start + i, "batchy") for i in range(20)])
    at_steady = burst_scores(model, [make_event(start + i, "steady") for i in range(20)])
    assert at_steady[-1] > at_batchy[-1]
    assert at_batchy[5] == 0.0, "six requests are this identity's ordinary peak"
    assert at_batchy[-1] > 0.0


def test_regular_bursty_job_stays_quiet():
    """A CI job reading the same thirty secrets in one minute every hour."""
    job = [
        make_event(T0 + h * HOUR + 2 * k, "ci", resource=f"secret/data/ci/{k}")
        for h in range(24 * 7)
        for k in range(30)
    ]
    model = learner(Volume())
    assessments = feed(model, job)
    assert max(a.risk for a in assessments[30 * 24 :]) == 0.0
    again = [
        make_event(T0 + 24 * 7 * HOUR + 2 * k, "ci", resource=f"secret/data/ci/{k}")
        for k in range(30)
    ]
    assert burst_scores(model, again) == [0.0] * 30


def test_enumerating_many_distinct_secrets_scores_high():
    """Ten reads per window is usual; ten *different* secrets is not."""
    history = routine(
        days=7, per_hour=120, hours=range(24), weekdays_only=False, resources=TWO_SECRETS
    )
    model = learner(Volume())
    feed(model, history)
    start = last_time(history) + HOUR
    sweep = [make_event(start + 20 * i, resource=f"secret/data/app/s{i}") for i in range(10)]
    burst_scores(model, sweep[:-1])
    finding = score(model, sweep[-1])
    assert finding is not None and finding.score >= 0.5
    assert "10 distinct secrets in 5 min" in finding.reason
    assert "requests in" not in finding.reason, "the request count itself is ordinary"

    control = learner(Volume())
    feed(control, history)
    usual = [make_event(start + 20 * i, resource=TWO_SECRETS[i % 2]) for i in range(10)]
    assert burst_scores(control, usual) == [0.0] * 10


def test_list_burst_scores():
    history = steady_service()
    model = learner(Volume())
    feed(model, history)
    start = last_time(history) + HOUR
    lists = [
        make_event(start + 10 * i, action="list", resource="secret/metadata/app/") for i in range(8)
    ]
    burst_scores(model, lists[:-1])
    finding = score(model, lists[-1])
    assert finding is not None
    assert "8 lists in 5 min" in finding.reason


def test_denied_burst_scores_even_for_a_new_identity():
    model = learner(Volume())
    probes = [
        make_event(T0 + 5 * i, "intruder", outcome="denied", resource=f"secret/data/{i}")
        for i in range(8)
    ]
    scores = burst_scores(model, probes)
    assert scores[:2] == [0.0, 0.0], "a denial or two is a typo"
    assert scores[-1] >= 0.9
    finding = score(model, make_event(T0 + 50, "intruder", outcome="denied"))
    assert finding.instant == finding.score, "needs no history"
    assert "9 permission-denied responses" in finding.reason


def test_denials_are_judged_against_the_identitys_own_denial_rate():
    """A client that is often denied (a misconfigured retry loop) gets less for three."""
    noisy = []
    for w in range(500):
        start = T0 + w * 5 * MINUTE
        noisy += [make_event(start + i, "retrier", outcome="denied") for i in range(3)]
    model = learner(Volume())
    feed(model, noisy)
    start = T0 + 500 * 5 * MINUTE + HOUR
    assert (
        burst_scores(model, [make_event(start + i, "retrier", outcome="denied") for i in range(4)])[
            -1
        ]
        == 0.0
    )
    fresh = learner(Volume())
    assert (
        burst_scores(fresh, [make_event(start + i, "new", outcome="denied") for i in range(4)])[-1]
        > 0.0
    )


def test_window_with_untrusted_events_is_not_learned():
    """A burst the model would revoke on is not folded into the baseline: the next one
    scores as high as the first."""
    history = steady_service()
    scorer = Scorer({"volume": 1.0}, alert=0.6, revoke=0.9, learning=Learning(1, 0.0))
    model = RiskModel([Volume()], scorer, IdentityStore(365 * DAY, 1000))
    feed(model, history)
    start = last_time(history) + HOUR
    burst = [make_event(start + i) for i in range(40)]
    model.process(burst[0])  # closes the last window of the history
    volume = model.store.get("svc").volume
    windows, baseline = volume.windows, pickle.dumps((volume.moments, volume.hourly))

    first = [model.process(event).risk for event in burst[1:]]
    assert first[-1] >= 0.9
    model.process(make_event(start + 10 * MINUTE))  # closes the burst's window
    assert volume.windows == windows
    assert pickle.dumps((volume.moments, volume.hourly)) == baseline
    second = [model.process(make_event(start + HOUR + i)).risk for i in range(40)]
    assert second[-1] >= first[-1]

    trusting = learner(Volume())
    feed(trusting, history)
    feed(trusting, burst)
    trusting.process(make_event(start + 10 * MINUTE))
    assert trusting.store.get("svc").volume.windows == windows + 1
