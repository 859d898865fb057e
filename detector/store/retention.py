"""Retention by age: events, accesses and baselines older than the horizon are deleted.

The horizon is in event time, behind the newest event the store holds, so a replay of an
old log is not wiped the moment it is written. Alerts and actions are the record of what
the detector decided and did: they are small and kept; delete them by hand if you must.
Deletes go in chunks, so a long-neglected store does not hold the writer for long.
"""

from __future__ import annotations

import sqlite3

__all__ = ["apply"]

_CHUNK = 20_000

#: table -> the column whose event time ages a row
AGED = {"events": "time", "accesses": "last_time", "baselines": "taken_at"}


def apply(connection: sqlite3.Connection, horizon: float) -> int:
    """Delete rows older than ``horizon`` (seconds since the epoch); the number deleted."""
    deleted = 0
    for table, column in AGED.items():
        while True:
            with connection:
                cursor = connection.execute(
                    f"DELETE FROM {table} WHERE rowid IN "
                    f"(SELECT rowid FROM {table} WHERE {column} < ? LIMIT {_CHUNK})",
                    (horizon,),
                )
            deleted += cursor.rowcount
            if cursor.rowcount < _CHUNK:
                break
    return deleted
