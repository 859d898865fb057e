"""How often things happen: Poisson counts and the daily shape of demand.

A service that decrypts a card number per checkout calls Vault as often as customers
check out: little at 04:00, most at lunch and in the evening, more on a Saturday for a
shop. :class:`DailyProfile` is that shape, by local hour, scaled to average 1, and
:func:`arrivals` draws the call times of a Poisson process that follows it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from detector.simulate.timekeeping import HOUR

__all__ = ["PROFILES", "DailyProfile", "arrivals", "poisson"]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count: exact for small means, the normal approximation above 30."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass(frozen=True, slots=True)
class DailyProfile:
    """Relative demand by local hour (24 weights, mean 1) and a weekend factor."""

    hourly: tuple[float, ...]
    weekend: float = 1.0

    @classmethod
    def of(cls, weights: list[float], weekend: float = 1.0) -> DailyProfile:
        mean = sum(weights) / len(weights)
        return cls(tuple(w / mean for w in weights), weekend)

    def factor(self, hour: int, weekday: int) -> float:
        return self.hourly[hour] * (self.weekend if weekday >= 5 else 1.0)


#: Named shapes: a consumer shop peaks at lunch and in the evening and is busy on
#: weekends; back-office work follows office hours; infrastructure is nearly flat.
PROFILES: dict[str, DailyProfile] = {
    "shop": DailyProfile.of(
        [3, 2, 1.5, 1.2, 1.2, 1.5, 3, 5, 7, 8, 9, 10, 11, 10, 9, 9, 9, 10, 12, 13, 12, 10, 7, 5],
        weekend=1.2,
    ),
    "office": DailyProfile.of(
        [1, 1, 1, 1, 1, 1.5, 3, 7, 11, 13, 13, 12, 10, 12, 13, 12, 11, 8, 5, 3, 2, 1.5, 1, 1],
        weekend=0.25,
    ),
    "flat": DailyProfile.of(
        [8, 7, 7, 7, 7, 8, 9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 10, 10, 9, 9, 9, 8],
        weekend=0.9,
    ),
}


def arrivals(rng: random.Random, start: int, end: int, rate: Callable[[int], float]) -> list[int]:
    """Sorted event times of a Poisson process on ``[start, end)``.

    ``rate(t)`` is the expected number of events per hour for the hour that begins at
    ``t``; it is evaluated once per whole hour, so a profile by local hour is followed
    exactly and the cost is one draw per hour, not per event.
    """
    times: list[int] = []
    slot = start - start % HOUR
    while slot < end:
        lo, hi = max(slot, start), min(slot + HOUR, end)
        count = poisson(rng, rate(slot) * (hi - lo) / HOUR)
        times.extend(lo + int(rng.random() * (hi - lo)) for _ in range(count))
        slot += HOUR
    times.sort()
    return times
