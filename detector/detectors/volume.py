"""Unusual volume: too many requests, distinct secrets, lists or denials in a short window."""

from __future__ import annotations

import math
import zlib
from array import array
from typing import ClassVar

from scipy.special import betainc, pdtrc

from detector.detectors.base import DetectorBase, Finding, combine, tail_score
from detector.event import DENIED, EnrichedEvent
from detector.state import IdentityState

__all__ = ["Volume"]

# Actions that do not reach a secret: they do not count towards distinct secrets.
_NOT_SECRETS = frozenset({"login", "token-lookup", "token-renew", "lease-renew"})
# Per closed window: a peak is forgotten by half after ~350 windows of the identity.
_PEAK_DECAY = 0.998


class VolumeState:
    """The current window's counts and the identity's baseline of past windows.

    ``moments`` holds, per metric (requests, distinct, lists, denied), the running mean
    and mean square of counts over closed, fully trusted windows (0-7), the dispersion of
    request counts around their hour's mean (8), and each metric's slowly decaying peak
    (9-12); ``hourly`` the mean
    request count of windows by hour of day (0-23) and how many windows each mean rests
    on (24-47). Plain arrays: compact, and their items are Python floats (fast to use).
    """

    __slots__ = (
        "start",
        "requests",
        "trusted",
        "distinct",
        "lists",
        "denied",
        "windows",
        "moments",
        "hourly",
    )

    def __init__(self, start: float) -> None:
        self.start = start
        self.requests = self.trusted = self.lists = self.denied = 0
        # Hashes of the window's secrets; an array is a quarter of a set's size, and a
        # window rarely holds more than a few dozen.
        self.distinct: array | None = None
        self.windows = 0
        self.moments = array("d", bytes(13 * 8))
        self.hourly = array("f", bytes(48 * 4))


class Volume(DetectorBase):
    """Request rate, distinct secrets, list and permission-denied bursts per window.

    Counts in the current window (tumbling, ``window`` seconds, per identity) are compared
    with the identity's own past windows through a negative binomial tail: the mean comes
    from windows in the same hour of the day (shrunk towards the identity's overall mean),
    the dispersion from all its windows, so a CI job that always reads thirty secrets in a
    minute stays quiet while a service that reads two does not. Denials have a small prior
    rate, so a burst of them is suspicious even for an identity never seen before.

    Parameters
    ----------
    window
        Seconds per window.
    memory
        Number of past windows the baseline effectively averages over.
    prior_requests
        Requests per window assumed before anything is learned.
    prior_denied
        Denials per window assumed for an identity with no history of denials.
    """

    observes: ClassVar[bool] = True
    name: ClassVar[str] = "volume"

    def __init__(
        self,
        window: float = 300.0,
        memory: int = 200,
        prior_requests: float = 5.0,
        prior_denied: float = 0.3,
    ) -> None:
        self.window = window
        self.memory = memory
        self.prior_requests = prior_requests
        self.prior_denied = prior_denied

    @classmethod
    def _unit_test_params(cls):
        yield {"window": 60.0, "memory": 50}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        vol: VolumeState | None = state.volume
        e = event.event
        if vol is None or e.time < vol.start:
            return None  # one event is not a burst; a late one belongs to a closed window
        counted = e.action not in _NOT_SECRETS
        if e.time >= vol.start + self.window:
            requests, distinct, lists, denied = 1, int(counted), 0, 0
        else:
            requests = vol.requests + 1
            seen = vol.distinct or ()
            distinct = len(seen)
            if counted and _resource_key(event) not in seen:
                distinct += 1
            lists, denied = vol.lists, vol.denied
        lists += e.action == "list"
        denied += e.outcome == DENIED
        if requests < 4 and denied < 2:
            return None  # nothing here can be a burst: skip the arithmetic
        hour = int(e.time // 3600) % 24
        minutes = self.window / 60
        parts = []
        if vol.windows:
            # Only what goes beyond the identity's own busiest windows can be a burst: a
            # CI system whose runs sometimes overlap has done thirty before.
            for metric, count, label in (
                (0, requests, "requests"),
                (1, distinct, "distinct secrets"),
                (2, lists, "lists"),
            ):
                if count < 3:
                    continue
                peak = vol.moments[9 + metric]
                if metric == 0 and vol.hourly[24 + hour] > 0 and vol.moments[0] > 0:
                    # The peak at this hour's scale: busy mornings say little about nights.
                    peak *= min(1.0, vol.hourly[hour] / vol.moments[0])
                if count <= peak:
                    continue
                mean, dispersion = self._expected(vol, metric, hour if metric == 0 else None)
                tail = _tail(count, mean, dispersion)
                if tail < 0.01:
                    usual = "usual for this hour" if metric == 0 else "usual"
                    # Half again its busiest is notable; twice its busiest counts in full.
                    beyond = min(1.0, count / peak - 1.0) if peak >= 1.0 else 1.0
                    parts.append(
                        (
                            tail_score(tail) * beyond,
                            f"{count} {label} in {minutes:.0f} min ({usual} ~{mean:.1f}, "
                            f"busiest before {peak:.0f})",
                            False,
                        )
                    )
        if denied >= 2:
            mean = max(self.prior_denied, vol.moments[6])
            tail = float(pdtrc(denied - 1, mean))
            if tail < 0.01:
                parts.append(
                    (
                        tail_score(tail),
                        f"{denied} permission-denied responses in {minutes:.0f} min "
                        f"(usual ~{mean:.1f})",
                        True,
                    )
                )
        if not parts:
            return None
        return combine(self.name, parts, requests=requests, distinct=distinct, denied=denied)

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        if state.volume is not None:
            state.volume.trusted += 1

    def observe_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        """Count every event into the current window; close the window when it is over."""
        e = event.event
        vol: VolumeState | None = state.volume
        if vol is None:
            vol = state.volume = VolumeState(e.time)
        elif e.time < vol.start:
            return  # late: its window is closed and folded into the baseline already
        elif e.time >= vol.start + self.window:
            self._close(vol)
            vol.start = e.time
        vol.requests += 1
        if e.action not in _NOT_SECRETS:
            key = _resource_key(event)
            if vol.distinct is None:
                vol.distinct = array("I", (key,))
            elif len(vol.distinct) < 4096 and key not in vol.distinct:
                vol.distinct.append(key)
        vol.lists += e.action == "list"
        vol.denied += e.outcome == DENIED

    # -- internals -----------------------------------------------------------------------

    def _close(self, vol: VolumeState) -> None:
        """Fold a finished window into the baseline, unless it held untrusted events."""
        if vol.trusted >= vol.requests:
            vol.windows += 1
            rate = 1.0 / min(vol.windows, self.memory)
            moments = vol.moments
            distinct = len(vol.distinct or ())
            for metric, count in enumerate((vol.requests, distinct, vol.lists, vol.denied)):
                moments[2 * metric] += rate * (count - moments[2 * metric])
                moments[2 * metric + 1] += rate * (count * count - moments[2 * metric + 1])
                moments[9 + metric] = max(float(count), moments[9 + metric] * _PEAK_DECAY)
            hour = int(vol.start // 3600) % 24
            hourly = vol.hourly
            if hourly[24 + hour] > 0:
                # Spread around this hour's own mean, pooled over hours (quasi-Poisson):
                # a busy morning must not make a burst in a quiet night look ordinary.
                expected = max(hourly[hour], 0.5)
                residual = (vol.requests - hourly[hour]) ** 2 / expected
                moments[8] += rate * (residual - moments[8])
            weight = hourly[24 + hour] + 1.0
            hourly[hour] += (vol.requests - hourly[hour]) / min(weight, self.memory / 8)
            hourly[24 + hour] = weight
        vol.requests = vol.trusted = vol.lists = vol.denied = 0
        vol.distinct = None

    def _expected(self, vol: VolumeState, metric: int, hour: int | None = None):
        """Expected count this window and its dispersion (variance / mean, at least 1)."""
        mean, square = vol.moments[2 * metric], vol.moments[2 * metric + 1]
        # Few windows: lean on the prior.
        known = min(vol.windows, self.memory)
        prior = self.prior_requests if metric == 0 else self.prior_requests / 2
        overall = (known * mean + 3.0 * prior) / (known + 3.0)
        variance = max(square - mean * mean, 0.0)
        dispersion = max(1.0, variance / mean) if mean > 0 else 1.0
        if hour is not None and vol.hourly[24 + hour] > 0:
            weight = vol.hourly[24 + hour]
            overall = (weight * vol.hourly[hour] + 3.0 * overall) / (weight + 3.0)
            if weight >= 2:
                dispersion = max(1.0, vol.moments[8])
        # Few windows say little about the spread: widen it.
        dispersion *= 1.0 + 5.0 / (known + 1.0)
        return max(overall, 0.5), dispersion


def _tail(count: int, mean: float, dispersion: float) -> float:
    """P(X >= count) for a count with this mean and variance ``mean * dispersion``."""
    if count <= mean + 2.0 * math.sqrt(mean * dispersion) + 1.0:
        return 1.0
    if dispersion <= 1.0001:
        return float(pdtrc(count - 1, mean))
    # Negative binomial with size r and success probability p: P(X >= k) = I_{1-p}(k, r).
    variance = mean * dispersion
    p = mean / variance
    r = mean * mean / (variance - mean)
    return float(betainc(count, r, 1.0 - p))


def _resource_key(event: EnrichedEvent) -> int:
    # A stable hash (not hash()): saved state must mean the same in the next process.
    return zlib.crc32(event.event.resource.encode())
