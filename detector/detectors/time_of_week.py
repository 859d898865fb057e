"""Unusual time: an hour of the week this identity is rarely active in."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from detector.detectors.base import Finding
from detector.event import EnrichedEvent
from detector.state import Decay, IdentityState

__all__ = ["TimeOfWeek"]

HOURS = 168
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EPOCH_HOUR_OF_WEEK = 72  # 1970-01-01 00:00 UTC was a Thursday: 3 days after Monday 00:00
_REBASE_AT = 1e6


def hour_of_week(time: float) -> int:
    """0 = Monday 00:00–00:59 UTC … 167 = Sunday 23:00–23:59 UTC.

    >>> hour_of_week(1795835578.0)  # 2026-11-28, a Saturday, 03:12 UTC
    123
    """
    return (int(time // 3600) + _EPOCH_HOUR_OF_WEEK) % HOURS


class TimeProfile:
    """An identity's decayed hour-of-week histogram and the scores derived from it.

    ``scores`` holds the surprise of each hour quantised to a byte; it is recomputed in
    ``learn_one`` when the profile has grown by ``refresh`` since the last time, so that
    scoring is a lookup and depends only on the state (replays give the same scores).
    """

    __slots__ = ("counts", "ref", "scores", "scored_at")

    def __init__(self, time: float) -> None:
        self.counts = np.zeros(HOURS, dtype=np.float32)
        self.ref = time
        self.scores: bytes | None = None
        self.scored_at = 0


class TimeOfWeek:
    """Hour-of-week profile per identity, smoothed, with a population prior.

    The probability of each hour mixes the identity's own histogram (with neighbouring
    hours, because habits do not stop on the hour), the product of its hour-of-day and
    day-of-week marginals (a weekday habit extends to the other weekdays), and the
    population's histogram as a prior worth ``prior_strength`` events. An hour is as
    surprising as the total probability of the hours at most as likely as it (a p-value),
    so an identity active around the clock never scores.

    Parameters
    ----------
    half_life
        Seconds after which an observation counts half.
    prior_strength
        How many events the population prior is worth.
    significance
        The p-value at which the score starts to rise; it reaches 1 two decades lower.
    refresh
        Relative growth of the profile that triggers recomputing the hour scores.
    """

    name: ClassVar[str] = "time"

    def __init__(
        self,
        half_life: float = 14 * 86400.0,
        prior_strength: float = 10.0,
        significance: float = 0.05,
        refresh: float = 0.05,
    ) -> None:
        self.half_life = half_life
        self.prior_strength = prior_strength
        self.significance = significance
        self.refresh = refresh
        self._decay = Decay(half_life)
        self.population = np.ones(HOURS, dtype=np.float64)

    def __repr__(self) -> str:
        return (
            f"TimeOfWeek(half_life={self.half_life}, prior_strength={self.prior_strength}, "
            f"significance={self.significance}, refresh={self.refresh})"
        )

    @classmethod
    def _unit_test_params(cls):
        yield {"half_life": 7 * 86400.0, "prior_strength": 5.0}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        profile: TimeProfile | None = state.time
        if profile is None or profile.scores is None:
            return None
        hour = hour_of_week(event.event.time)
        score = profile.scores[hour] / 255.0
        if score <= 0.0:
            return None
        return Finding(
            detector=self.name,
            score=score,
            reason=self._reason(event, profile, hour),
            evidence={"hour_of_week": hour},
        )

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        time = event.event.time
        profile: TimeProfile | None = state.time
        if profile is None:
            profile = state.time = TimeProfile(time)
        hour = hour_of_week(time)
        weight = self._decay.weight(time, profile.ref)
        if weight > _REBASE_AT:
            profile.counts /= np.float32(weight)
            profile.ref = time
            weight = 1.0
        profile.counts[hour] += weight
        self.population[hour] += 1.0
        if state.learned + 1 >= max(5, profile.scored_at * (1.0 + self.refresh)):
            profile.scores = self._hour_scores(profile, time)
            profile.scored_at = state.learned + 1

    def observe_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        """Time has no short-term context."""

    # -- internals -----------------------------------------------------------------------

    def _probabilities(self, profile: TimeProfile, time: float) -> tuple[np.ndarray, float]:
        counts = profile.counts.astype(np.float64)
        total = counts.sum()
        smoothed = counts + 0.5 * (np.roll(counts, 1) + np.roll(counts, -1))
        smoothed /= smoothed.sum()
        grid = counts.reshape(7, 24)
        marginal = np.outer(grid.sum(axis=1) / total, grid.sum(axis=0) / total).ravel()
        own = 0.7 * smoothed + 0.3 * marginal
        prior = self.population / self.population.sum()
        prior = 0.5 * prior + 0.5 / HOURS
        n = total * self._decay.factor(time, profile.ref)
        return (n * own + self.prior_strength * prior) / (n + self.prior_strength), n

    def _hour_scores(self, profile: TimeProfile, time: float) -> bytes:
        p, _ = self._probabilities(profile, time)
        # An hour is as surprising as the mass of the hours at most as likely as it.
        ranked = np.sort(p)
        tail = np.cumsum(ranked)[np.searchsorted(ranked, p, side="right") - 1]
        ratio = np.maximum(tail, 1e-12) / self.significance
        scores = np.clip(-np.log10(ratio) / 2.0, 0.0, 1.0)
        return np.round(scores * 255.0).astype(np.uint8).tobytes()

    def _reason(self, event: EnrichedEvent, profile: TimeProfile, hour: int) -> str:
        p, n = self._probabilities(profile, event.event.time)
        by_hour = p.reshape(7, 24).sum(axis=0)
        usual = _usual_hours(by_hour)
        when = f"{_DAYS[hour // 24]} {hour % 24:02d}:00 UTC"
        share = p[hour] * 100
        return (
            f"active {when}, unusual for {event.display_identity}: {share:.2g}% of its "
            f"~{math.floor(n):,} recent events fall in this hour; usually active {usual}"
        )


def _usual_hours(by_hour: np.ndarray) -> str:
    """The smallest run of hours of the day holding 80% of the activity, as text."""
    best: tuple[int, int] | None = None
    for start in range(24):
        mass = 0.0
        for length in range(1, 25):
            mass += by_hour[(start + length - 1) % 24]
            if mass >= 0.8:
                if best is None or length < best[1]:
                    best = (start, length)
                break
    if best is None or best[1] >= 22:
        return "around the clock"
    start, length = best
    return f"{start:02d}:00–{(start + length) % 24:02d}:00 UTC"
