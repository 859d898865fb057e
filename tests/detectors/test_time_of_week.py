"""Time of week: activity at hours the identity is rarely active in."""

from __future__ import annotations

import random

from detector.detectors import TimeOfWeek
from detector.detectors.time_of_week import hour_of_week

from .conftest import DAY, HOUR, T0, feed, learner, make_event, merge, routine, score

# Four weeks of history start on Monday T0; these are days of the fifth week.
TUESDAY = T0 + 29 * DAY
FRIDAY = T0 + 32 * DAY
SATURDAY = T0 + 33 * DAY


def office_hours(per_hour: int = 20, identity: str = "svc", days: int = 28) -> list:
    """Weekdays 09:00–17:00 UTC for four weeks."""
    return routine(days=days, per_hour=per_hour, hours=range(9, 17), identity=identity)


def time_score(model, time: float, identity: str = "svc") -> float:
    finding = score(model, make_event(time, identity))
    return finding.score if finding is not None else 0.0


def test_hour_of_week_starts_on_monday_midnight_utc():
    assert hour_of_week(T0) == 0
    assert hour_of_week(T0 + 5 * DAY + 3 * HOUR + 59 * 60) == 5 * 24 + 3
    assert hour_of_week(T0 + 7 * DAY - 1) == 167
    assert hour_of_week(T0 + 7 * DAY) == 0


def test_activity_at_an_hour_never_seen_scores_high():
    model = learner(TimeOfWeek())
    feed(model, office_hours())
    finding = score(model, make_event(SATURDAY + 3 * HOUR + 600))
    assert finding is not None and finding.score >= 0.5
    assert finding.instant == 0.0, "unusual time is judged against history"
    assert "Sat 03:00 UTC" in finding.reason
    assert "unusual for svc" in finding.reason
    assert "usually active 09:00" in finding.reason


def test_usual_hours_score_nothing():
    model = learner(TimeOfWeek())
    feed(model, office_hours())
    for hour in range(9, 17):
        assert score(model, make_event(TUESDAY + hour * HOUR + 1800)) is None


def test_hour_next_to_usual_ones_scores_less_than_the_middle_of_the_night():
    """Habits do not stop on the hour: 17:00 borders the working day, 03:00 does not."""
    model = learner(TimeOfWeek())
    feed(model, office_hours())
    assert time_score(model, TUESDAY + 17 * HOUR + 600) < time_score(
        model, TUESDAY + 3 * HOUR + 600
    )


def test_new_identity_has_no_time_finding_until_it_has_some_history():
    model = learner(TimeOfWeek())
    feed(model, office_hours()[:5])
    for hour in range(0, 168, 7):
        assert score(model, make_event(T0 + 7 * DAY + hour * HOUR)) is None


def test_hour_common_in_the_population_is_less_surprising():
    """The population prior: an hour when many identities work is less odd than one when
    nobody does."""
    night_shift = [
        make_event(e.event.time, f"night-{k}")
        for k in range(20)
        for e in routine(days=28, per_hour=4, hours=[20, 21])
    ]
    model = learner(TimeOfWeek())
    feed(model, merge(office_hours(), night_shift))
    assert time_score(model, TUESDAY + 20 * HOUR + 600) < time_score(
        model, SATURDAY + 3 * HOUR + 600
    )


def test_a_new_schedule_becomes_normal_as_the_old_one_fades():
    """Profiles decay: after moving to nights, nights stop being unusual."""
    model = learner(TimeOfWeek())
    feed(model, routine(days=28, per_hour=20, weekdays_only=False))
    assert time_score(model, T0 + 28 * DAY + 23 * HOUR) >= 0.5
    nights = routine(
        days=14,
        per_hour=20,
        hours=[21, 22, 23, 0, 1, 2, 3, 4],
        start=T0 + 28 * DAY,
        weekdays_only=False,
    )
    feed(model, nights)
    assert score(model, make_event(T0 + 42 * DAY + 23 * HOUR)) is None


# -- known weaknesses (strict: they fail loudly once fixed, so the marker is removed) -----


def test_activity_at_an_hour_never_seen_scores_high_for_a_light_user():
    model = learner(TimeOfWeek())
    feed(model, office_hours(per_hour=2))
    assert time_score(model, SATURDAY + 3 * HOUR + 600) >= 0.5


def test_identity_active_around_the_clock_never_scores_on_time():
    rng = random.Random(5)
    events = [make_event(T0 + rng.uniform(0, 28 * DAY)) for _ in range(28 * 72)]
    model = learner(TimeOfWeek())
    feed(model, sorted(events, key=lambda e: e.event.time))
    later = T0 + 28 * DAY
    assert max(time_score(model, later + h * HOUR + 1800) for h in range(168)) == 0.0


def test_weekday_habit_extends_to_the_other_weekdays():
    model = learner(TimeOfWeek())
    feed(model, [e for e in office_hours() if (e.event.time - T0) // DAY % 7 < 4])
    assert time_score(model, FRIDAY + 10 * HOUR) < time_score(model, SATURDAY + 3 * HOUR) / 2
