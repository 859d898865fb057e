"""The reorder buffer: events come out in event-time order, ``window`` behind the newest."""

from __future__ import annotations

import random

from detector.event import AccessEvent
from detector.runtime.reorder import ReorderBuffer


def event(time: float, name: str | None = None) -> AccessEvent:
    return AccessEvent(name or f"e{time:g}", time, "vault", "alice", "read", "secret/x")


def ids(events: list[AccessEvent]) -> list[str]:
    return [e.event_id for e in events]


def test_events_are_held_until_the_window_has_passed():
    buffer = ReorderBuffer(window=60.0)
    assert buffer.push([event(100.0)]) == []
    assert buffer.push([event(159.0)]) == []
    assert ids(buffer.push([event(160.0)])) == ["e100"]  # 160 - 60 reaches it
    assert len(buffer) == 2


def test_events_within_the_window_are_released_in_event_time_order():
    buffer = ReorderBuffer(window=30.0)
    released = buffer.push([event(t) for t in (10.0, 5.0, 20.0, 1.0)])
    assert released == []
    released = buffer.push([event(50.0)])
    assert ids(released) == ["e1", "e5", "e10", "e20"]


def test_shuffled_stream_comes_out_sorted_when_no_event_is_later_than_the_window():
    rng = random.Random(3)
    times = [float(t) for t in range(500)]
    arrival = sorted(times, key=lambda t: t + rng.uniform(0, 20))  # at most 20 s late
    buffer = ReorderBuffer(window=20.0)
    out = []
    for t in arrival:
        out += buffer.push([event(t)])
    out += buffer.drain()
    assert [e.time for e in out] == times


def test_event_later_than_the_window_is_released_at_once_not_dropped():
    buffer = ReorderBuffer(window=10.0)
    buffer.push([event(100.0)])
    assert ids(buffer.push([event(50.0)])) == ["e50"]
    assert ids(buffer.drain()) == ["e100"]


def test_events_with_the_same_time_keep_their_arrival_order():
    buffer = ReorderBuffer(window=5.0)
    buffer.push([event(1.0, "request"), event(1.0, "second"), event(1.0, "third")])
    assert ids(buffer.push([event(10.0, "later")])) == ["request", "second", "third"]


def test_drain_releases_everything_in_order_and_empties_the_buffer():
    buffer = ReorderBuffer(window=3600.0)
    buffer.push([event(t) for t in (3.0, 1.0, 2.0)])
    assert ids(buffer.drain()) == ["e1", "e2", "e3"]
    assert len(buffer) == 0 and buffer.drain() == []


def test_full_buffer_releases_its_oldest_even_inside_the_window():
    buffer = ReorderBuffer(window=3600.0, max_events=3)
    assert buffer.push([event(t) for t in (1.0, 2.0, 3.0)]) == []
    assert ids(buffer.push([event(0.5), event(4.0)])) == ["e0.5", "e1"]
    assert len(buffer) == 3


def test_zero_window_releases_at_once_in_order():
    buffer = ReorderBuffer(window=0.0)
    assert ids(buffer.push([event(2.0), event(1.0)])) == ["e1", "e2"]
