"""The store sink: scored events, alerts, actions, accesses and baselines into SQLite.

Rows are gathered in memory and written in one transaction per batch (``batch_size``
events, and whenever the runtime flushes: when a live stream goes quiet and at the end),
in WAL mode with ``synchronous=NORMAL``, so analysts can read while a run writes and a
batch costs one write of the log, not one per row. The store serves analysts, not
detection: a store that cannot be written (disk full, a locked or broken file) never
stops the run. The failure is counted (``errors``) and logged, the batch waits in memory,
and the next write tries the waiting batches first, in one transaction: once the store
is writable again it catches up. Beyond ``backlog`` waiting events the oldest batches are
given up (``dropped``), so a store that stays broken cannot exhaust memory.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from detector.detectors.resource import normalise_path
from detector.pipeline import Pipeline, ScoredEvent
from detector.store import retention, schema
from detector.store.baseline import identity_baseline

__all__ = ["StoreSink", "connect"]

log = logging.getLogger(__name__)

_EVENT_COLUMNS = [name for name, _, _ in schema.TABLES["events"][1]]
_ALERT_COLUMNS = [name for name, _, _ in schema.TABLES["alerts"][1]]
_ACTION_COLUMNS = [name for name, _, _ in schema.TABLES["actions"][1]]
_ACCESS_COLUMNS = [name for name, _, _ in schema.TABLES["accesses"][1]]
_BASELINE_COLUMNS = [name for name, _, _ in schema.TABLES["baselines"][1]]


def _insert(table: str, columns: list[str], verb: str = "INSERT OR IGNORE") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_INSERT_EVENT = _insert("events", _EVENT_COLUMNS)
_INSERT_ALERT = _insert("alerts", _ALERT_COLUMNS)
_INSERT_ACTION = _insert("actions", _ACTION_COLUMNS)
_INSERT_BASELINE = _insert("baselines", _BASELINE_COLUMNS, "INSERT OR REPLACE")
_UPSERT_ACCESS = _insert("accesses", _ACCESS_COLUMNS, "INSERT") + (
    " ON CONFLICT (secret, identity, action, outcome, network) DO UPDATE SET"
    " count = count + excluded.count, alerts = alerts + excluded.alerts,"
    " max_risk = max(max_risk, excluded.max_risk),"
    " first_time = min(first_time, excluded.first_time),"
    " last_time = max(last_time, excluded.last_time),"
    " identity_name = excluded.identity_name, service = excluded.service,"
    " team = excluded.team, country = excluded.country, city = excluded.city,"
    " asn = excluded.asn"
)
_LOG_EVERY = 100  # after the first, one warning per this many failed batches


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the store at ``path``, created with its schema if missing, in WAL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=2.0, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA cache_size=-16000")
        connection.isolation_level = "DEFERRED"
        schema.create(connection)
    except BaseException:
        connection.close()
        raise
    return connection


class _Batch(NamedTuple):
    """Rows gathered between two writes."""

    events: list[tuple]
    alerts: list[tuple]
    actions: list[tuple]
    baselines: list[tuple]
    accesses: dict[tuple[str, str, str, str, str], list[Any]]

    @property
    def rows(self) -> int:
        return len(self.events) + len(self.alerts) + len(self.actions) + len(self.baselines)


class StoreSink:
    """Writes what the pipeline saw to the store; a :class:`~detector.sinks.Sink`.

    Parameters
    ----------
    path
        The SQLite file (created, with its directory, if missing).
    pipeline_name
        Recorded with the run.
    score_floor, sample_rate
        Events at or above the floor are all kept; of the others, the share
        ``sample_rate``, chosen by a hash of the event id (a replay keeps the same ones).
        Accesses, alerts and actions are counted from every event, kept or not.
    snapshot_every
        Seconds of event time between snapshots of the identities' baselines (aligned, so
        a daily snapshot falls at midnight UTC); only identities seen since the last
        snapshot are written again. Needs :meth:`bind`.
    retention
        Seconds of event time, before the newest event, to keep events, accesses and
        baselines for (0: for ever). Applied at start and at every snapshot.
    batch_size
        Events gathered before a write.
    clock
        Wall clock for ``recorded_at`` and the run's times (tests pass their own).
    """

    name = "store"

    def __init__(
        self,
        path: Path,
        pipeline_name: str = "",
        score_floor: float = 0.0,
        sample_rate: float = 1.0,
        snapshot_every: float = 86400.0,
        retention: float = 30 * 86400.0,
        batch_size: int = 4096,
        backlog: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.pipeline_name = pipeline_name
        self.score_floor = score_floor
        self.sample_rate = sample_rate
        self.snapshot_every = snapshot_every
        self.retention = retention
        self.batch_size = batch_size
        self.backlog = backlog
        self.clock = clock
        self.pipeline: Pipeline | None = None
        # what happened, for the summary and the metrics
        self.handled = self.kept = self.written = self.errors = self.dropped = 0
        self._sample_below = int(sample_rate * 2**32)
        self._events: list[tuple] = []
        self._alerts: list[tuple] = []
        self._actions: list[tuple] = []
        self._baselines: list[tuple] = []
        self._accesses: dict[tuple[str, str, str, str, str], list[Any]] = {}
        self._waiting: list[_Batch] = []  # batches the store could not take yet
        self._next_snapshot = math.inf
        self._last_snapshot = -math.inf
        self._first_time: float | None = None
        self._last_time: float | None = None
        self._run_id = uuid.uuid4().hex
        self._started = clock()
        self._connection: sqlite3.Connection | None = None
        self._run_recorded = False
        self._closed = False
        self._connect()

    def bind(self, pipeline: Pipeline) -> None:
        """Let the sink read the identities' baselines (the runtime calls this).

        The pipeline, not its model, is kept: restoring saved state replaces the model.
        """
        self.pipeline = pipeline

    # -- the sink contract ----------------------------------------------------------------

    def handle(self, scored: ScoredEvent) -> None:
        """Take one scored event; write when a batch is full."""
        enriched = scored.enriched
        e = enriched.event
        a = scored.assessment
        t, risk, decision = e.time, a.risk, a.decision
        if t >= self._next_snapshot:
            self._snapshot_due(t)
        elif self._first_time is None:
            self._first_time = t
            self._next_snapshot = (t // self.snapshot_every + 1) * self.snapshot_every
        if self._last_time is None or t > self._last_time:
            self._last_time = t  # a live health alert is stamped with the wall clock
        self.handled += 1
        geo, service = enriched.geo, enriched.service
        secret = normalise_path(e.resource)[0]
        if e.source != "pipeline":
            network = geo.network if geo is not None else None
            key = (secret, e.identity, e.action, e.outcome, network or "")
            access = self._accesses.get(key)
            if access is None:
                self._accesses[key] = [
                    *key,
                    e.identity_name or e.identity,
                    service.name if service is not None else None,
                    service.team if service is not None else None,
                    geo.country if geo is not None else None,
                    geo.city if geo is not None else None,
                    geo.asn if geo is not None else None,
                    1,
                    decision is not None,
                    risk,
                    t,
                    t,
                ]
            else:
                access[11] += 1
                if decision is not None:
                    access[12] += 1
                if risk > access[13]:
                    access[13] = risk
                if t < access[14]:
                    access[14] = t
                if t > access[15]:
                    access[15] = t
        weight = 1.0
        if risk < self.score_floor:
            if zlib.crc32(e.event_id.encode()) >= self._sample_below:
                self._full()
                return
            weight = 1.0 / self.sample_rate
        self.kept += 1
        risky = risk > 0.0
        sensitivity = enriched.sensitivity
        self._events.append(
            (
                e.event_id,
                t,
                e.source,
                e.identity,
                e.identity_name or None,
                e.credential,
                e.client_ip,
                e.user_agent,
                e.action,
                e.resource,
                secret,
                e.outcome,
                geo.ip_class if geo is not None else None,
                geo.network if geo is not None else None,
                geo.country if geo is not None else None,
                geo.city if geo is not None else None,
                geo.asn if geo is not None else None,
                service.name if service is not None else None,
                service.team if service is not None else None,
                sensitivity.level if sensitivity is not None else None,
                risk,
                decision,
                orjson.dumps(a.reasons).decode() if risky else None,
                orjson.dumps(a.contributions).decode() if risky else None,
                weight,
            )
        )
        if decision is not None:
            self._decided(scored)
        self._full()

    def flush(self) -> None:
        """Write what is gathered (the input went quiet)."""
        self._write()

    def close(self) -> None:
        """Snapshot the baselines, write everything, record the run, close the file."""
        if self._closed:
            return
        self._closed = True
        if self._last_time is not None:
            self._snapshot(self._last_time)
        self._write()
        self.dropped += sum(len(batch.events) for batch in self._waiting)  # never written
        self._waiting.clear()
        if self._connection is not None:
            self._guard(self._finish_run)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def summary(self) -> dict[str, Any]:
        """What the sink did, for the run's summary."""
        return {
            "path": str(self.path),
            "events_handled": self.handled,
            "events_kept": self.kept,
            "rows_written": self.written,
            "errors": self.errors,
            "events_waiting": sum(len(batch.events) for batch in self._waiting),
            "events_dropped": self.dropped,
        }

    # -- gathering ------------------------------------------------------------------------

    def _full(self) -> None:
        if len(self._events) >= self.batch_size or len(self._accesses) >= self.batch_size:
            self._write()

    def _decided(self, scored: ScoredEvent) -> None:
        record = scored.alert_record()
        self._alerts.append(
            (
                record["alert_id"],
                record["event_id"],
                scored.event.time,
                record["source"],
                record["identity"],
                record["identity_name"],
                record["credential"],
                record["client_ip"],
                record["geo"],
                record["country"],
                record["action"],
                record["resource"],
                record["outcome"],
                record["service"],
                record["team"],
                record["sensitivity"],
                record["risk"],
                record["decision"],
                orjson.dumps(record["reasons"]).decode(),
                orjson.dumps(record).decode(),
            )
        )
        if record["decision"] == "revoke":
            detail = {k: record[k] for k in ("service", "team", "reasons")}
            self._actions.append(
                (
                    f"{record['alert_id']}:revoke:decided",
                    record["alert_id"],
                    record["event_id"],
                    scored.event.time,
                    record["identity"],
                    record["credential"],
                    "revoke",
                    "decided",
                    int(bool(record["auto_revoke"])),
                    record["risk"],
                    self.clock(),
                    orjson.dumps(detail).decode(),
                )
            )

    def _snapshot_due(self, time: float) -> None:
        boundary = time // self.snapshot_every * self.snapshot_every
        self._snapshot(boundary)
        self._next_snapshot = boundary + self.snapshot_every
        self._write()
        connection = self._connection
        if self.retention and connection is not None:
            self._guard(lambda: retention.apply(connection, time - self.retention))

    def _snapshot(self, taken_at: float) -> None:
        """Gather the baselines of the identities seen since the last snapshot."""
        if self.pipeline is None:
            return
        model = self.pipeline.model
        detectors = {d.name: d for d in model.detectors}
        learning = model.scorer.learning
        since = self._last_snapshot
        for state in model.store:
            if state.last_seen < since:
                continue
            try:
                baseline = identity_baseline(state, detectors, taken_at)
            except Exception:  # a detector of another shape must not stop the run
                log.exception("cannot snapshot the baseline of %s", state.identity)
                continue
            self._baselines.append(
                (
                    state.identity,
                    taken_at,
                    state.events,
                    state.learned,
                    state.first_seen,
                    state.last_seen,
                    round(state.maturity(learning.min_events, learning.min_age), 4),
                    orjson.dumps(baseline).decode(),
                )
            )
        self._last_snapshot = taken_at

    # -- writing --------------------------------------------------------------------------

    def _write(self) -> None:
        """Write the waiting batches and the gathered rows, in one transaction."""
        if self._events or self._alerts or self._actions or self._baselines or self._accesses:
            self._waiting.append(
                _Batch(self._events, self._alerts, self._actions, self._baselines, self._accesses)
            )
            self._events, self._alerts, self._actions, self._baselines = [], [], [], []
            self._accesses = {}
        if not self._waiting:
            return
        if self._connection is None:
            self._connect()
        if self._connection is None or not self._guard(self._insert_waiting):
            self._give_up_beyond_backlog()

    def _insert_waiting(self) -> None:
        assert self._connection is not None
        with self._connection as connection:
            for batch in self._waiting:
                connection.executemany(_INSERT_EVENT, batch.events)
                connection.executemany(_INSERT_ALERT, batch.alerts)
                connection.executemany(_INSERT_ACTION, batch.actions)
                connection.executemany(_UPSERT_ACCESS, batch.accesses.values())
                connection.executemany(_INSERT_BASELINE, batch.baselines)
        self.written += sum(batch.rows for batch in self._waiting)
        self._waiting.clear()

    def _give_up_beyond_backlog(self) -> None:
        waiting = sum(len(batch.events) for batch in self._waiting)
        while waiting > self.backlog and len(self._waiting) > 1:
            oldest = self._waiting.pop(0)
            waiting -= len(oldest.events)
            self.dropped += len(oldest.events)

    def _connect(self) -> None:
        try:
            self._connection = connect(self.path)
        except (sqlite3.Error, OSError, ValueError) as exc:
            self._failed(exc)
            return
        if not self._run_recorded:
            self._run_recorded = self._guard(self._start_run)

    def _guard(self, write: Callable[[], object]) -> bool:
        """Run a write; a failure is counted and logged, never raised. The connection is
        dropped after a failure, so the next batch starts from a fresh one."""
        try:
            write()
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            if self._connection is not None:
                try:
                    self._connection.close()
                except sqlite3.Error:
                    pass
                self._connection = None
            return False
        return True

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % _LOG_EVERY == 0:
            log.warning(
                "store %s cannot be written (%s failures so far; detection goes on): %s",
                self.path,
                self.errors,
                exc,
            )

    def _start_run(self) -> None:
        with self._connection as connection:
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('pipeline', ?)",
                (self.pipeline_name,),
            )
            connection.execute(
                "INSERT INTO runs (run_id, pipeline, started_at) VALUES (?, ?, ?)",
                (self._run_id, self.pipeline_name, self._started),
            )
        if self.retention:
            newest = self._connection.execute("SELECT max(time) FROM events").fetchone()[0]
            if newest is not None:
                retention.apply(self._connection, newest - self.retention)

    def _finish_run(self) -> None:
        with self._connection as connection:
            connection.execute(
                "UPDATE runs SET finished_at = ?, first_event = ?, last_event = ?, summary = ?"
                " WHERE run_id = ?",
                (
                    self.clock(),
                    self._first_time,
                    self._last_time,
                    orjson.dumps(self.summary()).decode(),
                    self._run_id,
                ),
            )
