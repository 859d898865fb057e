"""Event time for the simulation: integer nanoseconds, Vault's timestamp format, local days.

The simulation keeps time as integer nanoseconds since the epoch: Vault writes
nanosecond timestamps, and integers sort and repeat exactly, so the same seed gives the
same bytes on every machine. People and jobs live by their local clock (working hours,
02:00 batch runs), so :class:`LocalClock` turns local dates and hours into event time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "LocalClock",
    "iso_time",
    "rfc3339_nano",
    "rfc3339_seconds",
]

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@lru_cache(maxsize=8192)
def _minute_prefix(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` as Vault writes it: trailing zeros of the fraction dropped.

    >>> rfc3339_nano(1_795_835_578_980_034_549)
    '2026-11-28T03:12:58.980034549Z'
    >>> rfc3339_nano(1_795_835_578_983_021_380)
    '2026-11-28T03:12:58.98302138Z'
    """
    minute, rest = divmod(ns, MINUTE)
    seconds, fraction = divmod(rest, SECOND)
    if fraction:
        return f"{_minute_prefix(minute)}{seconds:02d}.{f'{fraction:09d}'.rstrip('0')}Z"
    return f"{_minute_prefix(minute)}{seconds:02d}Z"


def rfc3339_seconds(ns: int) -> str:
    """A timestamp to the second, as Vault writes ``token_issue_time``."""
    minute, rest = divmod(ns, MINUTE)
    return f"{_minute_prefix(minute)}{rest // SECOND:02d}Z"


def iso_time(ns: int) -> str:
    """ISO 8601 in UTC to the millisecond, for the files people read (scenarios.json)."""
    return (
        datetime.fromtimestamp(ns / SECOND, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class LocalClock:
    """Local dates and hours of one time zone, as event time.

    >>> berlin = LocalClock("Europe/Berlin")
    >>> rfc3339_seconds(berlin.at(date(2026, 11, 2), 9.5))
    '2026-11-02T08:30:00Z'
    """

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self._tz = ZoneInfo(zone)
        self._midnights: dict[date, int] = {}

    def midnight(self, day: date) -> int:
        """Event time of local midnight starting ``day``."""
        ns = self._midnights.get(day)
        if ns is None:
            local = datetime(day.year, day.month, day.day, tzinfo=self._tz)
            ns = int(local.timestamp()) * SECOND
            self._midnights[day] = ns
        return ns

    def at(self, day: date, hour: float) -> int:
        """Event time of a local wall-clock hour (fractional) on ``day``.

        Across a daylight-saving change the hours after it are shifted, as a person's
        alarm clock is.
        """
        start = self.midnight(day)
        next_start = self.midnight(day + timedelta(days=1))
        shift = (next_start - start) - DAY  # +/- one hour on the change days
        ns = start + int(hour * HOUR)
        return ns + shift if hour >= 3 and shift else ns

    def date_of(self, ns: int) -> date:
        """The local date at an event time."""
        return datetime.fromtimestamp(ns // SECOND, self._tz).date()

    def hour_of(self, ns: int) -> float:
        """The local wall-clock hour (fractional) at an event time."""
        local = datetime.fromtimestamp(ns // SECOND, self._tz)
        return local.hour + local.minute / 60 + local.second / 3600

    def weekday_of(self, ns: int) -> int:
        """Monday is 0, as :meth:`datetime.date.weekday`."""
        return self.date_of(ns).weekday()
