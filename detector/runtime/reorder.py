"""Putting events back in event-time order before they are scored.

Rotated files, CloudTrail's 5-minute delivery files and several shippers interleave
events out of order; every model runs on event time, so a bounded buffer holds each event
until nothing earlier can still arrive (``window`` seconds behind the latest event seen).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable

from detector.event import AccessEvent

__all__ = ["ReorderBuffer"]


class ReorderBuffer:
    """A min-heap on (event time, event id), released ``window`` seconds behind the newest
    event. Ties break on the event id, not on arrival, so any runtime that sees the same
    events puts them in the same order.

    >>> buffer = ReorderBuffer(window=10.0)
    >>> e = lambda t: AccessEvent(f"e{t}", t, "vault", "alice", "read", "secret/x")
    >>> [x.event_id for x in buffer.push([e(5.0), e(1.0), e(30.0)])]
    ['e1.0', 'e5.0']
    >>> [x.event_id for x in buffer.drain()]
    ['e30.0']
    """

    def __init__(self, window: float, max_events: int = 1_000_000) -> None:
        self.window = window
        self.max_events = max_events
        self._heap: list[tuple[float, str, int, AccessEvent]] = []
        self._sequence = itertools.count()  # for events repeated with the same id
        self._newest = float("-inf")

    def push(self, events: Iterable[AccessEvent]) -> list[AccessEvent]:
        """Add events; return those now due, oldest first."""
        heap = self._heap
        for event in events:
            heapq.heappush(heap, (event.time, event.event_id, next(self._sequence), event))
            if event.time > self._newest:
                self._newest = event.time
        due = []
        horizon = self._newest - self.window
        while heap and (heap[0][0] <= horizon or len(heap) > self.max_events):
            due.append(heapq.heappop(heap)[3])
        return due

    def drain(self) -> list[AccessEvent]:
        """Everything held, oldest first (end of input, or a quiet live stream)."""
        heap, self._heap = self._heap, []
        return [item[3] for item in sorted(heap)]

    def __len__(self) -> int:
        return len(self._heap)
