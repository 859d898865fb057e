"""Fast, exact parsing of the ISO 8601 timestamps audit logs write.

Audit logs repeat the same minute thousands of times, so the expensive part (the calendar)
is cached per ``YYYY-MM-DDTHH:MM`` prefix and only the seconds are parsed per record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from detector.errors import ParseError

__all__ = ["parse_timestamp"]

_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
_DIGITS = frozenset("0123456789")


@lru_cache(maxsize=4096)
def _minute_epoch(prefix: str) -> float:
    return datetime.fromisoformat(prefix + ":00+00:00").timestamp()


# The minute of the last record and its epoch: consecutive records share their minute.
_last: tuple[str, float] = ("", 0.0)


def parse_timestamp(value: object) -> float:
    """Seconds since the epoch for a UTC timestamp such as ``2026-11-28T03:12:58.2026Z``.

    Also accepts a space instead of ``T``, numeric offsets and no zone (taken as UTC, as
    CloudTrail exports by some tools write it). Raises :class:`ParseError` otherwise.

    >>> parse_timestamp("2026-11-28T03:12:58.5Z")
    1795835578.5
    """
    global _last
    if not isinstance(value, str) or len(value) < 19:
        raise ParseError("bad timestamp", repr(value)[:64])
    if (
        value[-1] == "Z"
        and value[10] in "T "
        and value[13] == value[16] == ":"
        and value[17] in "012345"  # seconds 60-99 are not a time: let fromisoformat refuse
        and value[18] in _DIGITS  # str.isdigit() takes "²", which float() refuses
        and (
            len(value) == 20
            or (value[19] == "." and value[20:-1].isascii() and value[20:-1].isdigit())
        )
    ):
        minute, base = _last
        if value[:16] != minute:
            try:
                base = _minute_epoch(value[:10] + "T" + value[11:16])
            except ValueError:
                raise ParseError("bad timestamp", value[:64]) from None
            if not _EARLIEST <= base < _LATEST:
                raise ParseError("timestamp out of range", value[:64])
            _last = (value[:16], base)
        return base + float(value[17:-1])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError("bad timestamp", value[:64]) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    epoch = parsed.timestamp()
    if not _EARLIEST <= epoch < _LATEST:
        raise ParseError("timestamp out of range", value[:64])
    return epoch
