"""Reading the store into pandas DataFrames: the questions analysts ask most.

``StoreReader(path)`` answers with DataFrames whose times are timezone-aware UTC
timestamps and whose JSON columns are Python lists and dicts. Each call opens its own
read-only connection and closes it, so a reader can stay open in a notebook while a run
writes (WAL lets readers and the writer work at once) and leaks nothing.

``since`` and ``until`` take a duration (``"24h"``, ``"7d"``: back from the newest event
in the store, the *end of the data*, which for a live run is about now and for a replay
is the end of the replayed log), a date or time (``"2026-11-06"``, a ``datetime``) or
seconds since the epoch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from detector.config.loading import parse_duration
from detector.errors import DetectorError

__all__ = ["IdentityBaseline", "StoreError", "StoreReader"]

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
#: actions that return a secret's value (Vault reads, Secrets Manager/SSM reads, KMS decrypt)
SECRET_READS = ("read", "decrypt")
# Vault's own control paths (tokens, auth, system, a token's private cubbyhole) are not
# secrets anyone owns: the inventory questions leave them out.
_NOT_SECRETS = (
    " AND secret NOT LIKE 'sys/%' AND secret NOT LIKE 'auth/%'"
    " AND secret NOT LIKE 'identity/%' AND secret NOT LIKE 'cubbyhole/%'"
)

Bound = str | float | int | datetime | pd.Timestamp | None


class StoreError(DetectorError):
    """The store is missing, unreadable or of another schema version."""


@dataclass
class IdentityBaseline:
    """An identity's learned baseline at one snapshot, ready to plot.

    ``hours`` is a 7 x 24 frame of shares of its activity (rows Mon..Sun, columns hour of
    day, UTC); ``networks``, ``places`` and ``clients`` hold decayed event counts;
    ``volume_by_hour`` the mean requests per ``window`` seconds by hour of day.
    """

    identity: str
    taken_at: pd.Timestamp
    events: int
    learned: int
    maturity: float
    first_seen: pd.Timestamp
    last_seen: pd.Timestamp
    hours: pd.DataFrame
    usual_hours: tuple[int, int] | None
    networks: pd.DataFrame
    places: pd.DataFrame
    clients: pd.DataFrame
    volume: dict[str, Any]
    volume_by_hour: pd.Series
    novelty: dict[str, float]


class StoreReader:
    """Read access to one store file.

    >>> reader = StoreReader("out/vault-local/store.sqlite")  # doctest: +SKIP
    >>> reader.alerts(since="24h", decision="revoke")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"no store at {self.path}")

    def __repr__(self) -> str:
        return f"StoreReader({str(self.path)!r})"

    # -- plumbing -------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Any SELECT on the store (the schema is in the README), as a DataFrame."""
        connection = sqlite3.connect(
            self.path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0
        )
        try:
            return pd.read_sql_query(sql, connection, params=list(params))
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        finally:
            connection.close()

    def end(self) -> float | None:
        """The newest event time in the store (seconds): what ``since="24h"`` counts back from."""
        frame = self.query(
            "SELECT max(t) AS t FROM (SELECT max(time) AS t FROM events"
            " UNION ALL SELECT max(time) FROM alerts)"
        )
        value = frame["t"].iloc[0]
        return None if pd.isna(value) else float(value)

    def span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First and last event time the store holds."""
        frame = self.query("SELECT min(time) AS first, max(time) AS last FROM events")
        first, last = frame["first"].iloc[0], frame["last"].iloc[0]
        return (
            None if pd.isna(first) else _timestamp(first),
            None if pd.isna(last) else _timestamp(last),
        )

    def seconds(self, value: Bound) -> float | None:
        """A ``since``/``until`` bound as seconds since the epoch (``None``: unbounded)."""
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError(f"not a time or duration: {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if not isinstance(value, datetime):
            try:
                back = parse_duration(value)
            except ValueError:
                pass
            else:
                end = self.end()
                return None if end is None else end - back
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return stamp.timestamp()

    def _where(
        self,
        since: Bound = None,
        until: Bound = None,
        column: str = "time",
        **equal: Any,
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for op, bound in ((">=", since), ("<", until)):
            seconds = self.seconds(bound)
            if seconds is not None:
                clauses.append(f"{column} {op} ?")
                params.append(seconds)
        for name, value in equal.items():
            if value is None:
                continue
            if isinstance(value, list | tuple | set | frozenset):
                values = list(value)
                clauses.append(f"{name} IN ({', '.join('?' * len(values))})")
                params.extend(values)
            else:
                clauses.append(f"{name} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    # -- the questions --------------------------------------------------------------------

    def alerts(
        self,
        since: Bound = None,
        until: Bound = None,
        identity: str | None = None,
        decision: str | None = None,
        health: bool | None = None,
    ) -> pd.DataFrame:
        """Alerts (and revoke decisions), oldest first.

        ``health``: ``True`` only pipeline-health alerts, ``False`` none of them.
        """
        where, params = self._where(since, until, identity=identity, decision=decision)
        if health is not None:
            where += (" AND " if where else " WHERE ") + (
                "source = 'pipeline'" if health else "source != 'pipeline'"
            )
        frame = self.query(
            "SELECT alert_id, event_id, time, source, identity, identity_name, credential,"
            " client_ip, geo, country, action, resource, outcome, service, team, sensitivity,"
            " risk, decision, reasons, record FROM alerts" + where + " ORDER BY time, alert_id",
            params,
        )
        frame = _decode(frame, ("reasons", "record"))
        frame["detectors"] = [record.get("detectors", {}) for record in frame["record"]]
        return _times(frame, "time")

    def events(
        self,
        since: Bound = None,
        until: Bound = None,
        identity: str | None = None,
        secret: str | None = None,
        min_risk: float | None = None,
        actions: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Kept scored events, oldest first; ``weight`` says how many each stands for."""
        where, params = self._where(since, until, identity=identity, secret=secret, action=actions)
        if min_risk is not None:
            where += (" AND " if where else " WHERE ") + "risk >= ?"
            params.append(min_risk)
        sql = "SELECT * FROM events" + where + " ORDER BY time, event_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        frame = _decode(self.query(sql, params), ("reasons", "detectors"))
        return _times(frame, "time")

    def actions(
        self,
        since: Bound = None,
        until: Bound = None,
        identity: str | None = None,
        status: str | None = None,
    ) -> pd.DataFrame:
        """Actions decided (and, once the ledger mirrors them, done), oldest first."""
        where, params = self._where(since, until, identity=identity, status=status)
        frame = self.query("SELECT * FROM actions" + where + " ORDER BY time, action_id", params)
        frame["auto_revoke"] = frame["auto_revoke"].astype(bool)
        frame = _decode(frame, ("detail",))
        return _times(frame, "time", "recorded_at")

    def identities(self, since: Bound = None, until: Bound = None) -> pd.DataFrame:
        """Per identity: events (weighted), alerts, revoke decisions, worst risk, last seen;
        most alerts first. Alerts are counted from the alerts table (never sampled)."""
        where, params = self._where(since, until)
        frame = self.query(
            "SELECT identity, max(identity_name) AS identity_name, max(service) AS service,"
            " sum(weight) AS events, max(risk) AS max_risk, max(time) AS last_seen"
            " FROM events" + where + " GROUP BY identity",
            params,
        )
        decided = self.query(
            "SELECT identity, count(*) AS alerts, sum(decision = 'revoke') AS revokes"
            " FROM alerts" + where + " GROUP BY identity",
            params,
        )
        frame = frame.merge(decided, on="identity", how="left")
        frame[["alerts", "revokes"]] = frame[["alerts", "revokes"]].fillna(0).astype(int)
        frame = frame.sort_values(["alerts", "max_risk"], ascending=False, ignore_index=True)
        return _times(frame, "last_seen")

    def baselines(self, identity: str | None = None) -> pd.DataFrame:
        """Every baseline snapshot (of one identity), oldest first; ``baseline`` decoded."""
        where, params = self._where(identity=identity)
        frame = self.query(
            "SELECT * FROM baselines" + where + " ORDER BY identity, taken_at", params
        )
        frame = _decode(frame, ("baseline",))
        return _times(frame, "taken_at", "first_seen", "last_seen")

    def identity_baseline(self, identity: str, at: Bound = None) -> IdentityBaseline | None:
        """The identity's latest baseline snapshot taken at or before ``at`` (default: the
        latest), or ``None`` if there is none."""
        where, params = self._where(until=None, identity=identity)
        at_seconds = self.seconds(at)
        if at_seconds is not None:
            where += " AND taken_at <= ?"
            params.append(at_seconds)
        frame = self.query(
            "SELECT * FROM baselines" + where + " ORDER BY taken_at DESC LIMIT 1", params
        )
        if frame.empty:
            return None
        row = frame.iloc[0]
        data = orjson.loads(row["baseline"])
        hours = data.get("hours") or [0.0] * 168
        usual = data.get("usual_hours")
        volume = data.get("volume") or {}
        return IdentityBaseline(
            identity=identity,
            taken_at=_timestamp(row["taken_at"]),
            events=int(row["events"]),
            learned=int(row["learned"]),
            maturity=float(row["maturity"]) if pd.notna(row["maturity"]) else 0.0,
            first_seen=_timestamp(row["first_seen"]),
            last_seen=_timestamp(row["last_seen"]),
            hours=pd.DataFrame(
                [hours[d * 24 : (d + 1) * 24] for d in range(7)], index=_DAYS, columns=range(24)
            ),
            usual_hours=tuple(usual) if usual else None,
            networks=pd.DataFrame(data.get("networks", []), columns=["network", "events"]),
            places=pd.DataFrame(data.get("places", []), columns=["country", "city", "events"]),
            clients=pd.DataFrame(data.get("clients", []), columns=["client", "events"]),
            volume=volume,
            volume_by_hour=pd.Series(
                [float("nan") if v is None else v for v in volume.get("hourly", [None] * 24)],
                index=range(24),
                name="mean requests per window",
            ),
            novelty=data.get("novelty", {}),
        )

    def accesses(
        self,
        secret: str | None = None,
        identity: str | None = None,
        actions: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Who touched which secret, how, from which network: counts over every event."""
        where, params = self._where(secret=secret, identity=identity, action=actions)
        frame = self.query(
            "SELECT * FROM accesses" + where + " ORDER BY secret, identity, network", params
        )
        return _times(frame, "first_time", "last_time")

    def secret_consumers(
        self,
        secret: str | None = None,
        since: Bound = None,
        actions: Sequence[str] = SECRET_READS,
    ) -> pd.DataFrame:
        """Per secret and identity: reads, alerted reads, first and last, where from.

        ``since`` keeps consumers whose last read is at or after it. Vault's control paths
        (``sys/``, ``auth/``, ``identity/``, ``cubbyhole/``) are left out.
        """
        where, params = self._where(since, None, "last_time", secret=secret, action=actions)
        where = (where or " WHERE 1") + _NOT_SECRETS
        frame = self.query(
            "SELECT secret, identity, max(identity_name) AS identity_name,"
            " max(service) AS service, max(team) AS team, sum(count) AS reads,"
            " sum(alerts) AS alerts, max(max_risk) AS max_risk, min(first_time) AS first_time,"
            " max(last_time) AS last_time, count(DISTINCT network) AS networks,"
            " group_concat(DISTINCT country) AS countries FROM accesses"
            + where
            + " GROUP BY secret, identity ORDER BY secret, reads DESC",
            params,
        )
        frame["countries"] = [
            sorted(c.split(",")) if isinstance(c, str) else [] for c in frame["countries"]
        ]
        return _times(frame, "first_time", "last_time")

    def stale_secrets(
        self, idle: str | float = "7d", actions: Sequence[str] = SECRET_READS
    ) -> pd.DataFrame:
        """Secrets read before but not in the last ``idle`` (back from the end of the data)."""
        end = self.end()
        if end is None:
            return pd.DataFrame(columns=["secret", "reads", "readers", "last_read", "idle_days"])
        horizon = end - parse_duration(idle)
        where, params = self._where(action=actions)
        where = (where or " WHERE 1") + _NOT_SECRETS
        frame = self.query(
            "SELECT secret, sum(count) AS reads, count(DISTINCT identity) AS readers,"
            " max(last_time) AS last_read FROM accesses"
            + where
            + " GROUP BY secret HAVING max(last_time) < ? ORDER BY last_read",
            [*params, horizon],
        )
        frame["idle_days"] = (end - frame["last_read"]) / 86400.0
        return _times(frame, "last_read")

    def runs(self) -> pd.DataFrame:
        """The runs that wrote the store, with their counts."""
        frame = _decode(self.query("SELECT * FROM runs ORDER BY started_at"), ("summary",))
        return _times(frame, "started_at", "finished_at", "first_event", "last_event")


def _timestamp(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz="UTC")


def _times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


def _decode(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = [orjson.loads(v) if isinstance(v, str) else None for v in frame[column]]
    return frame
