"""An identity's usual hours, for the *when* of an alert ("03:12 UTC; usually 07–18 UTC").

The time detector knows an identity's hours in detail, but an alert record carries only
the verdict; the responder sees every scored event, so it keeps this small count of its
own (24 hour-of-day counters per identity, the most recently seen identities only) from
the events that did not alert. The streaming runtime's alert records may carry
``usual_hours`` themselves.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict

__all__ = ["UsualHours"]


class UsualHours:
    """Hour-of-day counts per identity (UTC), bounded to ``max_identities``.

    >>> hours = UsualHours()
    >>> for day in range(5):
    ...     for hour in range(8, 17):
    ...         hours.observe("cart", day * 86400 + hour * 3600)
    >>> hours.describe("cart", 3 * 3600)
    'usually 08:00–17:00 UTC (this is outside them)'
    """

    def __init__(self, max_identities: int = 100_000, min_events: int = 20) -> None:
        self.max_identities = max_identities
        self.min_events = min_events
        self._counts: OrderedDict[str, array] = OrderedDict()

    def observe(self, identity: str, time: float) -> None:
        counts = self._counts.get(identity)
        if counts is None:
            counts = self._counts[identity] = array("I", bytes(4 * 24))
            if len(self._counts) > self.max_identities:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(identity)
        counts[int(time // 3600) % 24] += 1

    def window(self, identity: str) -> tuple[int, int] | None:
        """The shortest run of hours (start, length) holding 90% of the identity's events."""
        counts = self._counts.get(identity)
        total = sum(counts) if counts is not None else 0
        if counts is None or total < self.min_events:
            return None
        for length in range(1, 25):
            best = max(range(24), key=lambda s: sum(counts[(s + i) % 24] for i in range(length)))
            if sum(counts[(best + i) % 24] for i in range(length)) >= 0.9 * total:
                return best, length
        return 0, 24

    def describe(self, identity: str, time: float) -> str:
        """For the alert: the usual hours and whether this event falls in them."""
        window = self.window(identity)
        if window is None:
            return "usual hours not known yet"
        start, length = window
        if length >= 20:
            return "active around the clock"
        hour = int(time // 3600) % 24
        inside = (hour - start) % 24 < length
        return (
            f"usually {start:02d}:00–{(start + length) % 24:02d}:00 UTC "
            f"(this is {'inside' if inside else 'outside'} them)"
        )
