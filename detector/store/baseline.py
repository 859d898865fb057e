"""An identity's learned baseline as plain data, for the ``baselines`` table.

The model keeps what it learned in compact, decayed forms (16-bit hour counts with a scale,
inflated counters with a reference time, running moments). An analyst wants the same
knowledge in numbers: which hours, networks, places and clients, how many requests per
window. This module reads an :class:`~detector.state.IdentityState` without changing it.
A detector missing from the profile, or a slot it has not created yet, is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from detector.state import Decay, DecayingCounter, IdentityState

__all__ = ["identity_baseline"]


def identity_baseline(
    state: IdentityState, detectors: Mapping[str, Any], time: float
) -> dict[str, Any]:
    """The baseline of ``state`` at event time ``time``, as JSON-ready data.

    ``detectors`` maps detector names to the model's detectors, whose parameters (half-lives,
    window) say how to read the decayed counts.
    """
    baseline: dict[str, Any] = {}
    profile = state.time
    if profile is not None and "time" in detectors:
        counts = np.frombuffer(profile.counts, dtype=np.uint16).astype(np.float64)
        total = counts.sum()
        if total > 0:
            baseline["hours"] = [round(float(x), 5) for x in counts / total]
            decay = Decay(detectors["time"].half_life)
            baseline["hours_events"] = round(
                float(total * profile.scale * decay.factor(time, profile.ref)), 1
            )
            baseline["usual_hours"] = _usual_hours(profile.usual)
    location = state.location
    if location is not None and "location" in detectors:
        decay = Decay(detectors["location"].half_life)
        baseline["networks"] = _counted(location.networks, time, decay)
        if location.places is not None:
            baseline["places"] = [
                [*key.split("|", 1), n] for key, n in _counted(location.places, time, decay)
            ]
        baseline.setdefault("novelty", {})["network"] = round(location.novelty, 4)
    clients = state.client
    if clients is not None and "client" in detectors:
        decay = Decay(detectors["client"].half_life)
        baseline["clients"] = _counted(clients.families, time, decay)
    volume = state.volume
    if volume is not None and "volume" in detectors and volume.windows:
        moments, hourly = volume.moments, volume.hourly
        baseline["volume"] = {
            "window": detectors["volume"].window,
            "windows": volume.windows,
            "mean_requests": round(moments[0], 3),
            "peak_requests": round(moments[9], 1),
            "mean_distinct": round(moments[2], 3),
            "peak_distinct": round(moments[10], 1),
            # mean requests per window by hour of day (UTC); null where never seen
            "hourly": [
                round(float(hourly[h]), 3) if hourly[24 + h] > 0 else None for h in range(24)
            ],
        }
    resource = state.resource
    if resource is not None:
        baseline.setdefault("novelty", {})["secret"] = round(resource.novelty, 4)
    return baseline


def _counted(counter: DecayingCounter, time: float, decay: Decay) -> list[list[Any]]:
    """Keys with their decayed number of events at ``time``, most first."""
    if counter.ref is None:
        return []
    factor = decay.factor(time, counter.ref)
    ranked = sorted(counter.counts.items(), key=lambda kv: -kv[1])
    return [[key, round(count * factor, 2)] for key, count in ranked]


def _usual_hours(usual: int) -> list[int] | None:
    """``[start, length]`` of the hours of the day holding 90% of the activity (UTC);
    ``None`` for an identity active around the clock."""
    if usual < 0:
        return None
    start, length = divmod(usual, 32)
    return [start, length]
