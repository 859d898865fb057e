"""Pipeline health as detections: the audit stream itself can be what went wrong.

A detector that silently stops receiving events looks exactly like a quiet, safe week. So
the conditions that blind it are alerts like any other — the same record as
``ScoredEvent.alert_record()``, identity ``pipeline:<name>``, action ``health:<check>``,
decision ``alert`` — written to ``alerts.jsonl``, handed to every sink (the store, Slack
when it is on), never to the model. The checks:

``silence``
    No events for much longer than the stream's usual longest gap: ``factor`` times the
    ``quantile`` of the gaps between consecutive events (learned, decayed), and at least
    ``min_silence``. In a replay it is judged in event time, when events resume (a hole in
    the log: the audit device was down); while following a live stream, in wall-clock time
    since records last arrived (alerted while it lasts, once).
``hashed-accessor``
    The parser sees token accessors hashed by Vault (``hmac_accessor`` is on): revocation
    by accessor is impossible. Once per pipeline.
``deadletters``
    Dead letters in a window of records far above the stream's own rate: a Poisson tail
    below ``deadletter_tail`` for at least ``deadletter_min`` of them (a format change, a
    shipper that wraps lines, a truncated file). Windows that alerted are not learned.
``clock-drift``
    Live only: the newest event time is far from this host's clock, ahead at any time, or
    behind while the follower has caught up (nothing waiting to be read), in
    ``drift_ticks`` checks in a row. A replay's events are old by design and never judged.

Every check costs nothing per event: the runtime reports gaps longer than ``gap_floor``
(a comparison per event; events a restart skips count too, so a follower re-reading its
file warms up at once), and :meth:`HealthMonitor.tick` reads the pipeline's own counts
when the input goes quiet and every few thousand records. The checks judge after a warm-up
(``warm_up_events`` and ``warm_up_seconds`` of event time) and relearn after a restart.
"""

from __future__ import annotations

import logging
import math
import time as wall
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scipy.special import pdtrc

from detector.detectors.base import Finding
from detector.event import AccessEvent, EnrichedEvent, format_time
from detector.parsers.base import Notice
from detector.pipeline import Pipeline, ScoredEvent
from detector.scoring import ALERT, Assessment

__all__ = ["CHECKS", "HealthMonitor", "HealthSettings"]

log = logging.getLogger(__name__)

CHECKS = ("silence", "hashed-accessor", "deadletters", "clock-drift")
#: risk of each check's alert: how much an analyst should care, for ranking with the rest
_RISK = {"silence": 0.8, "hashed-accessor": 0.6, "deadletters": 0.7, "clock-drift": 0.7}
_DAY = 86400.0
_BINS = 64  # gap histogram: log-spaced from gap_floor, a factor 2**0.25 per bin (~22 days)
_RATIO = 2.0**0.25


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """The checks' parameters (seconds; shares in [0, 1])."""

    silence_factor: float = 4.0
    silence_quantile: float = 0.999
    min_silence: float = 900.0
    gap_floor: float = 60.0
    gap_half_life: float = 7 * _DAY
    warm_up_events: int = 1000
    warm_up_seconds: float = 1.5 * _DAY  # a night is seen before any gap is judged
    deadletter_window: int = 1000
    deadletter_window_seconds: float = 60.0
    deadletter_min: int = 20
    deadletter_tail: float = 1e-6
    deadletter_prior: float = 0.001
    deadletter_memory: int = 50
    max_drift: float = 120.0
    drift_ticks: int = 3


class HealthMonitor:
    """Watches one pipeline's input and raises health alerts.

    Parameters
    ----------
    pipeline
        The pipeline's name (the alerts' identity is ``pipeline:<name>``).
    settings
        Thresholds of the checks.
    live
        Following a live stream (wall-clock checks on) or replaying (event time only).
    clock
        The wall clock (tests pass their own).
    """

    def __init__(
        self,
        pipeline: str,
        settings: HealthSettings | None = None,
        live: bool = False,
        clock: Callable[[], float] = wall.time,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings or HealthSettings()
        self.live = live
        self.clock = clock
        self.gap_floor = self.settings.gap_floor
        self.inputs = "audit stream"
        self.raised: Counter[str] = Counter()
        self.pending: list[tuple] = []  # raised, not yet drained: see ``drain``
        # silence: decayed gap counts (gaps under gap_floor only counted in ``_gaps``)
        self._gaps = 0.0
        self._bins = [0.0] * _BINS
        self._events = 0
        self._decayed_at: float | None = None
        self._first: float | None = None
        self._newest: float | None = None  # newest event time scored
        self._arrived = 0  # records at the last tick
        self._arrival: float | None = None  # wall clock when records last arrived
        self._silent_since: float | None = None  # event time the alerted silence began
        # dead letters
        self._window_records = 0
        self._window_started: float | None = None
        self._window_counts: Counter[str] = Counter()
        self._deadletter_rate = self.settings.deadletter_prior
        self._windows = 0
        self._flooded = False
        # clock drift
        self._caught_up = False
        self._offsets: deque[float] = deque(maxlen=self.settings.drift_ticks)
        self._drifting = False

    # -- what the runtime reports -------------------------------------------------------

    def gap(self, before: float, after: float, events: int) -> None:
        """Consecutive events ``before`` and ``after`` (event time) are more than
        ``gap_floor`` apart (``before`` is ``-inf`` at the first event); ``events`` events
        were seen so far.

        Every gap is learned, an alerted one too: one outage among thousands of gaps does
        not move the quantile, while a stream that is quiet every weekend stops alerting
        after its first.
        """
        self.observe(after, events)
        if before == -math.inf:
            return
        length = after - before
        threshold = self.silence_threshold()
        if threshold is not None and length > threshold and self._silent_since != before:
            self._silence(before, after, length, threshold, live=False)
        self._silent_since = None
        index = min(_BINS - 1, int(math.log(length / self.gap_floor, _RATIO)))
        self._bins[index] += 1.0

    def notice(self, notice: Notice) -> None:
        """A parser's notice (the pipeline's ``on_notice``)."""
        if notice.code == "hashed-accessor" and not self.raised["hashed-accessor"]:
            self._raise("hashed-accessor", None, "accessors", notice.message, key="once")

    def tick(self, pipeline: Pipeline, newest: float | None, idle: bool, final: bool = False):
        """The input went quiet (``idle``), or a few thousand records passed, or the run ends
        (``final``): judge the dead-letter window, silence and drift. ``newest`` is the
        newest event time parsed (``None`` before any)."""
        now = self.clock() if self.live else None
        records = pipeline.records
        arrived = records > self._arrived
        self._arrived = records
        if now is not None and (arrived or self._arrival is None):
            self._arrival = now
        self._deadletter_window(pipeline, records, now, final)
        if now is None:
            return
        if idle:
            self._caught_up = True
        if arrived and newest is not None and self._caught_up:
            self._drift(now - newest, idle)
        if not arrived:
            self._live_silence(now)

    def drain(self, latest: float | None = None, final: bool = False) -> list[ScoredEvent]:
        """The health alerts raised since the last call, oldest first.

        Those with no time of their own (a parser's notice) take ``latest``, the newest
        event time the runtime has handed on, so a replay stamps them the same every time;
        before any event they wait (at the ``final`` drain, they take the wall clock).
        """
        alerts, waiting = [], []
        for check, time, resource, reason, key, evidence in self.pending:
            if time is None:
                time = latest if latest is not None else self._newest
            if time is None and final:
                time = self.clock()
            if time is None:
                waiting.append((check, time, resource, reason, key, evidence))
                continue
            risk = _RISK[check]
            event = AccessEvent(
                event_id=f"health:{self.pipeline}:{check}:{key}",
                time=time,
                source="pipeline",
                identity=f"pipeline:{self.pipeline}",
                identity_name=f"pipeline {self.pipeline}",
                action=f"health:{check}",
                resource=resource,
                outcome="error",
            )
            finding = Finding("health", risk, reason, instant=risk, evidence=evidence)
            alerts.append(
                ScoredEvent(EnrichedEvent(event), Assessment(risk, ALERT, [(risk, finding)], risk))
            )
        self.pending = waiting
        return alerts

    # -- silence --------------------------------------------------------------------------

    def silence_threshold(self) -> float | None:
        """Seconds without events that make a silence (``None`` while warming up)."""
        s = self.settings
        if (
            self._gaps < s.warm_up_events
            or self._first is None
            or self._newest is None
            or self._newest - self._first < s.warm_up_seconds
        ):
            return None
        allowed = self._gaps * (1.0 - s.silence_quantile)
        usual = self.gap_floor
        tail = 0.0
        for index in range(_BINS - 1, -1, -1):
            tail += self._bins[index]
            if tail > allowed:
                usual = self.gap_floor * _RATIO ** (index + 1)
                break
        return max(s.min_silence, s.silence_factor * usual)

    def observe(self, time: float, events: int) -> None:
        """The newest event time and the number of events seen so far: keeps the event-time
        clock and the number of gaps current (every event since the last call closed a gap;
        the short ones are only counted, not binned)."""
        if self._first is None:
            self._first = self._decayed_at = time
        if self._newest is None or time > self._newest:
            self._newest = time
        self._gaps += max(0, events - self._events)
        self._events = events
        elapsed = time - self._decayed_at
        if elapsed >= _DAY:  # decay once a day of event time: cheap and smooth enough
            factor = 0.5 ** (elapsed / self.settings.gap_half_life)
            self._gaps *= factor
            self._bins = [b * factor for b in self._bins]
            self._decayed_at = time

    def _live_silence(self, now: float) -> None:
        if self._arrival is None or self._newest is None or self._silent_since is not None:
            return
        threshold = self.silence_threshold()
        silent = now - self._arrival
        if threshold is not None and silent > threshold:
            self._silent_since = self._newest
            self._silence(self._newest, now, silent, threshold, live=True)

    def _silence(
        self, before: float, after: float, length: float, threshold: float, live: bool
    ) -> None:
        usual = threshold / self.settings.silence_factor
        reason = (
            f"no events from {self.inputs} for {_duration(length)}"
            + (" and counting" if live else f" ({format_time(before)} to {format_time(after)})")
            + f"; usually at most {_duration(usual)} between events: is the audit device, the "
            "shipper or the file still there?"
        )
        self._raise(
            "silence",
            after,
            self.inputs,
            reason,
            key=f"{before:.3f}",
            evidence={"silent_seconds": round(length, 1), "threshold": round(threshold, 1)},
        )

    # -- dead letters ---------------------------------------------------------------------

    def _deadletter_window(
        self, pipeline: Pipeline, records: int, now: float | None, final: bool
    ) -> None:
        s = self.settings
        if self._window_started is None:
            self._window_started = now
        n = records - self._window_records
        closes = n >= s.deadletter_window or (final and n > 0)
        if not closes and now is not None and n > 0 and self._window_started is not None:
            closes = now - self._window_started >= s.deadletter_window_seconds
        if not closes:
            return
        counts = Counter({k: v for k, v in pipeline.counts.items() if k.startswith("deadletter")})
        delta = counts - self._window_counts
        self._window_counts = counts
        self._window_records = records
        self._window_started = now
        dead = delta.get("deadletters", 0)
        expected = max(self._deadletter_rate, s.deadletter_prior) * n
        flooded = dead >= s.deadletter_min and float(pdtrc(dead - 1, expected)) < s.deadletter_tail
        if flooded and not self._flooded:
            reasons = sorted(
                ((k[12:], v) for k, v in delta.items() if k.startswith("deadletter: ")),
                key=lambda kv: -kv[1],
            )
            listed = ", ".join(f"{reason!r} {count:,}" for reason, count in reasons[:3])
            self._raise(
                "deadletters",
                self._newest,
                self.inputs,
                f"{dead:,} dead letters in {n:,} records ({dead / n:.1%}; usually "
                f"{self._deadletter_rate:.2%}): {listed} — has the log format or the shipper "
                "changed?",
                key=str(records),
                evidence={"deadletters": dead, "records": n, "reasons": dict(reasons)},
            )
        self._flooded = flooded
        if not flooded:
            self._windows += 1
            rate = 1.0 / min(self._windows, s.deadletter_memory)
            self._deadletter_rate += rate * (dead / n - self._deadletter_rate)

    # -- clock drift ----------------------------------------------------------------------

    def _drift(self, offset: float, idle: bool) -> None:
        """``offset`` = wall clock - newest event time, at a check where records arrived."""
        s = self.settings
        if offset > -s.max_drift and (offset < s.max_drift or not idle):
            # In time, or behind while the follower may still be catching up.
            if abs(offset) < s.max_drift / 2:
                self._drifting = False
            self._offsets.clear()
            return
        self._offsets.append(offset)
        if self._drifting or len(self._offsets) < s.drift_ticks:
            return
        if len({o > 0 for o in self._offsets}) != 1:
            return
        self._drifting = True
        drift = sorted(self._offsets)[len(self._offsets) // 2]
        direction = "behind" if drift > 0 else "ahead of"
        now = self.clock()
        self._raise(
            "clock-drift",
            now,
            self.inputs,
            f"the audit stream's clock is {_duration(abs(drift))} {direction} this host's "
            f"(newest event {format_time(now - drift)}): time-of-week and ordering are off "
            "until it is fixed (NTP on the Vault servers?)",
            key=str(int(now)),
            evidence={"offset_seconds": round(drift, 1)},
        )

    # -- raising --------------------------------------------------------------------------

    def _raise(
        self,
        check: str,
        time: float | None,
        resource: str,
        reason: str,
        key: str,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        self.pending.append((check, time, resource, reason, key, evidence or {}))
        self.raised[check] += 1
        log.warning("pipeline health (%s): %s", check, reason)


def _duration(seconds: float) -> str:
    """ "3 h 12 min", "14 min", "45 s"."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds / _DAY:.1f} days"
