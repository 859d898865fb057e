"""Unusual volume: too many requests, distinct secrets, lists or denials in a short window."""

from __future__ import annotations

import math
import zlib
from typing import ClassVar

import numpy as np
from scipy.special import nbdtrc, pdtrc

from detector.detectors.base import Finding, combine, tail_score
from detector.event import DENIED, EnrichedEvent
from detector.state import IdentityState

__all__ = ["Volume"]

# Actions that do not reach a secret: they do not count towards distinct secrets.
_NOT_SECRETS = frozenset({"login", "token-lookup", "token-renew", "lease-renew"})
_METRICS = ("requests", "distinct", "lists", "denied")


class VolumeState:
    """The current window's counts and the identity's baseline of past windows.

    ``moments`` holds, per metric, the running mean and mean square of counts over
    closed, fully trusted windows; ``hourly`` the mean request count of windows by hour of
    day (row 0) and how many windows that mean rests on (row 1).
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
        self.distinct: set[int] = set()
        self.windows = 0
        self.moments = np.zeros((4, 2), dtype=np.float64)
        self.hourly = np.zeros((2, 24), dtype=np.float32)


class Volume:
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

    def __repr__(self) -> str:
        return (
            f"Volume(window={self.window}, memory={self.memory}, "
            f"prior_requests={self.prior_requests}, prior_denied={self.prior_denied})"
        )

    @classmethod
    def _unit_test_params(cls):
        yield {"window": 60.0, "memory": 50}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        vol: VolumeState | None = state.volume
        e = event.event
        if vol is None:
            return None  # one event is not a burst
        if e.time >= vol.start + self.window:
            requests, distinct, lists, denied = 1, 1, 0, 0
        else:
            requests = vol.requests + 1
            distinct = len(vol.distinct) + (_resource_key(event) not in vol.distinct)
            lists, denied = vol.lists, vol.denied
        lists += e.action == "list"
        denied += e.outcome == DENIED
        hour = int(e.time // 3600) % 24
        minutes = self.window / 60
        parts = []
        if vol.windows:
            mean, dispersion = self._expected(vol, 0, hour)
            tail = _tail(requests, mean, dispersion)
            if tail < 0.01:
                parts.append(
                    (
                        tail_score(tail),
                        f"{requests} requests in {minutes:.0f} min; usual for this hour ~"
                        f"{mean:.1f}",
                        False,
                    )
                )
            for metric, count, label in ((1, distinct, "distinct secrets"), (2, lists, "lists")):
                if count < 3:
                    continue
                mean, dispersion = self._expected(vol, metric)
                tail = _tail(count, mean, dispersion)
                if tail < 0.01:
                    parts.append(
                        (
                            tail_score(tail),
                            f"{count} {label} in {minutes:.0f} min; usual ~{mean:.1f}",
                            False,
                        )
                    )
        if denied >= 2:
            mean = max(self.prior_denied, float(vol.moments[3, 0]))
            tail = float(pdtrc(denied - 1, mean))
            if tail < 0.01:
                parts.append(
                    (
                        tail_score(tail),
                        f"{denied} permission-denied responses in {minutes:.0f} min; "
                        f"usual ~{mean:.1f}",
                        True,
                    )
                )
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
        elif e.time >= vol.start + self.window:
            self._close(vol)
            vol.start = e.time
        vol.requests += 1
        if e.action not in _NOT_SECRETS:
            if len(vol.distinct) < 4096:
                vol.distinct.add(_resource_key(event))
        vol.lists += e.action == "list"
        vol.denied += e.outcome == DENIED

    # -- internals -----------------------------------------------------------------------

    def _close(self, vol: VolumeState) -> None:
        """Fold a finished window into the baseline, unless it held untrusted events."""
        if vol.trusted >= vol.requests:
            vol.windows += 1
            rate = 1.0 / min(vol.windows, self.memory)
            counts = np.array(
                [vol.requests, len(vol.distinct), vol.lists, vol.denied], dtype=np.float64
            )
            vol.moments[:, 0] += rate * (counts - vol.moments[:, 0])
            vol.moments[:, 1] += rate * (counts * counts - vol.moments[:, 1])
            hour = int(vol.start // 3600) % 24
            weight = float(vol.hourly[1, hour]) + 1.0
            hourly_rate = 1.0 / min(weight, self.memory / 8)
            vol.hourly[0, hour] += hourly_rate * (vol.requests - vol.hourly[0, hour])
            vol.hourly[1, hour] = weight
        vol.requests = vol.trusted = vol.lists = vol.denied = 0
        vol.distinct = set()

    def _expected(self, vol: VolumeState, metric: int, hour: int | None = None):
        """Expected count this window and its dispersion (variance / mean, at least 1)."""
        mean, square = vol.moments[metric]
        # Few windows: lean on the prior.
        known = min(vol.windows, self.memory)
        prior = self.prior_requests if metric == 0 else self.prior_requests / 2
        overall = (known * mean + 3.0 * prior) / (known + 3.0)
        if hour is not None and vol.hourly[1, hour] > 0:
            weight = float(vol.hourly[1, hour])
            overall = (weight * float(vol.hourly[0, hour]) + 3.0 * overall) / (weight + 3.0)
        variance = max(square - mean * mean, 0.0)
        dispersion = max(1.0, variance / mean) if mean > 0 else 1.0
        # Few windows say little about the spread: widen it.
        dispersion *= 1.0 + 5.0 / (known + 1.0)
        return max(overall, 0.5), dispersion


def _tail(count: int, mean: float, dispersion: float) -> float:
    """P(X >= count) for a count with this mean and variance ``mean * dispersion``."""
    if count <= mean + 2.0 * math.sqrt(mean * dispersion) + 1.0:
        return 1.0
    if dispersion <= 1.0001:
        return float(pdtrc(count - 1, mean))
    variance = mean * dispersion
    p = mean / variance
    n = mean * mean / (variance - mean)
    return float(nbdtrc(count - 1, n, p))


def _resource_key(event: EnrichedEvent) -> int:
    # A stable hash (not hash()): saved state must mean the same in the next process.
    return zlib.crc32(event.event.resource.encode())
