"""Unusual time: an hour of the week this identity is rarely active in."""

from __future__ import annotations

import math
from array import array
from typing import ClassVar

import numpy as np

from detector.detectors.base import DetectorBase, Finding
from detector.event import EnrichedEvent
from detector.state import Decay, IdentityState

__all__ = ["TimeOfWeek"]

HOURS = 168
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EPOCH_HOUR_OF_WEEK = 72  # 1970-01-01 00:00 UTC was a Thursday: 3 days after Monday 00:00
_REBASE_AT = 1e6
_WEEK = 7 * 86400.0


def hour_of_week(time: float) -> int:
    """0 = Monday 00:00–00:59 UTC … 167 = Sunday 23:00–23:59 UTC.

    >>> hour_of_week(1795835578.0)  # 2026-11-28, a Saturday, 03:12 UTC
    123
    """
    return (int(time // 3600) + _EPOCH_HOUR_OF_WEEK) % HOURS


class TimeProfile:
    """An identity's decayed hour-of-week histogram and the scores derived from it.

    ``counts`` are 16-bit units worth ``scale`` (inflated) observations each: half the
    size of floats, and a busy hour that would overflow halves every hour and doubles the
    scale. ``scores`` holds the surprise of each hour quantised to a byte; it is
    recomputed in ``learn_one`` when the profile has grown by ``refresh`` since the last
    time, so that scoring is a lookup and depends only on the state (replays give the
    same scores).
    """

    __slots__ = ("counts", "scale", "ref", "scores", "scored_at", "usual")

    def __init__(self, time: float) -> None:
        # array, not numpy: a smaller header, and numpy views it without copying.
        self.counts = array("H", bytes(2 * HOURS))
        self.scale = 1.0 / 64.0  # an observation at ``ref`` is 64 units
        self.ref = time
        self.scores: bytes | None = None
        self.scored_at = 0
        # Its usual hours of the day, for reasons: start * 32 + length (-1: around the clock).
        self.usual = -1


class TimeOfWeek(DetectorBase):
    """Hour-of-week profile per identity, smoothed, with a population prior.

    The probability of each hour mixes the identity's own histogram (with neighbouring
    hours, because habits do not stop on the hour), the product of its hour-of-day and
    day-of-week marginals (a weekday habit extends to the other weekdays), and the
    population's histogram as a prior worth ``prior_strength`` events. An hour is
    surprising when it is many times less likely than an even spread over the week, and
    the hours at most as likely hold little of the activity (so the quietest hours of an
    identity active around the clock do not count). Nothing scores before a week is seen.

    Parameters
    ----------
    half_life
        Seconds after which an observation counts half.
    prior_strength
        How many events the population prior is worth.
    significance
        An hour scores in full only if the hours at most as likely as it hold less than this
        share of the activity, and not at all above twice this share.
    refresh
        Relative growth of the profile that triggers recomputing the hour scores.
    """

    name: ClassVar[str] = "time"

    def __init__(
        self,
        half_life: float = 14 * 86400.0,
        prior_strength: float = 10.0,
        significance: float = 0.1,
        refresh: float = 0.1,
    ) -> None:
        self.half_life = half_life
        self.prior_strength = prior_strength
        self.significance = significance
        self.refresh = refresh
        self._decay = Decay(half_life)
        self.population = np.ones(HOURS, dtype=np.float64)

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
        if score < 0.1:
            return None  # too faint to count: not worth a reason
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
            profile.scale /= weight  # every count is worth 1/weight of what it was
            profile.ref = time
            weight = 1.0
        units = max(1, round(weight / profile.scale))
        while profile.counts[hour] + units > 0xFFFF:
            view = np.frombuffer(profile.counts, dtype=np.uint16)
            view //= 2
            profile.scale *= 2.0
            units = max(1, round(weight / profile.scale))
        profile.counts[hour] += units
        self.population[hour] += 1.0
        learned = state.learned + 1
        if learned >= max(profile.scored_at + 16, profile.scored_at * (1.0 + self.refresh)):
            profile.scores, profile.usual = self._hour_scores(profile, time, state.first_seen)
            profile.scored_at = learned

    # -- internals -----------------------------------------------------------------------

    def _probabilities(self, profile: TimeProfile, time: float) -> tuple[np.ndarray, float]:
        counts = np.frombuffer(profile.counts, dtype=np.uint16) * profile.scale
        total = counts.sum()
        # Neighbouring hours, around the week: Sunday 23:00 borders Monday 00:00.
        smoothed = counts.copy()
        smoothed[1:] += 0.5 * counts[:-1]
        smoothed[0] += 0.5 * counts[-1]
        smoothed[:-1] += 0.5 * counts[1:]
        smoothed[-1] += 0.5 * counts[0]
        smoothed /= smoothed.sum()
        grid = counts.reshape(7, 24) / total
        by_day = grid.sum(axis=1)
        # A habit on some weekdays extends to the other weekdays (and weekend to weekend).
        by_day[:5] = 0.6 * by_day[:5] + 0.4 * by_day[:5].mean()
        by_day[5:] = 0.6 * by_day[5:] + 0.4 * by_day[5:].mean()
        marginal = np.outer(by_day, grid.sum(axis=0)).ravel()
        own = 0.6 * smoothed + 0.4 * marginal
        prior = self.population / self.population.sum()
        prior = 0.5 * prior + 0.5 / HOURS
        n = total * self._decay.factor(time, profile.ref)
        return (n * own + self.prior_strength * prior) / (n + self.prior_strength), n

    def _hour_scores(
        self, profile: TimeProfile, time: float, first_seen: float
    ) -> tuple[bytes, str]:
        p, _ = self._probabilities(profile, time)
        # How many times less likely than an even spread over the week ...
        rarity = np.clip((-np.log10(p * HOURS) - 0.5) / 1.5, 0.0, 1.0)
        # ... provided the hours at most this likely hold little of the activity (a p-value),
        # so the quietest hours of an identity active around the clock do not count.
        ranked = np.sort(p)
        tail = np.cumsum(ranked)[np.searchsorted(ranked, p, side="right") - 1]
        significant = np.clip((2.0 * self.significance - tail) / self.significance, 0.0, 1.0)
        # A week must have been seen before an hour of it can be called unusual.
        coverage = min(1.0, (time - first_seen) / _WEEK)
        scores = rarity * significant * coverage
        usual = _usual_hours(p.reshape(7, 24).sum(axis=0))
        return np.round(scores * 255.0).astype(np.uint8).tobytes(), usual

    def _reason(self, event: EnrichedEvent, profile: TimeProfile, hour: int) -> str:
        counts = np.frombuffer(profile.counts, dtype=np.uint16)
        total = float(counts.sum()) * profile.scale
        share = float(counts[hour]) * profile.scale / total if total else 0.0
        n = total * self._decay.factor(event.event.time, profile.ref)
        when = f"{_DAYS[hour // 24]} {hour % 24:02d}:00 UTC"
        return (
            f"active {when}, unusual for {event.display_identity}: {share:.1%} of its "
            f"~{math.floor(n):,} recent events were in this hour of the week, usually active "
            f"{_describe_hours(profile.usual)}"
        )


_STARTS = np.arange(24)
_RUNS = _STARTS[None, :] + np.arange(1, 21)[:, None]  # [length - 1, start] -> end index


def _usual_hours(by_hour: np.ndarray) -> int:
    """The shortest run of hours of the day holding 90% of the activity: start * 32 + length.

    -1 when no run shorter than 21 hours does: the identity is active around the clock.
    """
    share = by_hour / by_hour.sum()
    # Sums of every run of every length starting at each hour, around the clock.
    doubled = np.concatenate([[0.0], np.cumsum(np.concatenate([share, share]))])
    runs = doubled[_RUNS] - doubled[_STARTS][None, :]
    enough = (runs >= 0.9).any(axis=1)
    if not enough.any():
        return -1
    length = int(np.argmax(enough)) + 1
    start = int(np.argmax(runs[length - 1]))
    return start * 32 + length


def _describe_hours(usual: int) -> str:
    if usual < 0:
        return "around the clock"
    start, length = divmod(usual, 32)
    return f"{start:02d}:00–{(start + length) % 24:02d}:00 UTC"
