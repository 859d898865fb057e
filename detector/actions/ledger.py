"""The ledger: every action on production, before and after it happens (SQLite, WAL).

One SQLite file holds what the detector did and what it is about to do, so that a crash, a
restart or a Vault outage loses nothing and does nothing twice; ``detector actions`` reads
it, and so can a notebook. Several processes share it (the runtime that scores, the
``slack-actions`` server that takes button clicks): WAL mode lets them read while one
writes, and every state change is a compare-and-set on the row's ``status``.

Schema (version 1)::

    actions      one row per credential acted on (unique ``credential``)
      action_id      TEXT PRIMARY KEY  "act-" + 24 hex of sha256(event_id NUL credential)
                                      of the first event that asked for an action on it
      kind           TEXT   revoke-token | revoke-lease
      credential     TEXT   token accessor or lease id (never a token)
      event_id, alert_id, event_time     the event behind the current decision
      identity, identity_name, service, team
      policies       JSON   the token's policies as the audit log showed them
      risk REAL, reasons JSON, detectors JSON (the pattern a Benign click suppresses)
      decision       TEXT   the engine's decision: alert | revoke
      status         TEXT   see STATUSES
      guard          TEXT   why it was not done automatically (NULL when it was)
      decided_by     TEXT   auto | slack:<user id> | NULL while nobody decided
      decided        REAL   when (wall clock; the storm guard counts these)
      blast_radius   JSON   what lookup-accessor said would be cut: display name,
                            policies, TTL, entity, ...
      result         TEXT   the last outcome, for people
      attempts INTEGER, next_attempt REAL, claimed_until REAL   the durable queue
      dry_run INTEGER, created REAL, updated REAL
    history      append-only: (seq, action_id, at, status, detail) for every request and
                 result, written before and after each call
    requests     every action request id seen (a replayed request does nothing new)
    suppressions Benign and Snooze clicks: (id, kind benign|snooze, identity, detectors JSON,
                 starts (event time), expires, created, created_by, alert_id, action_id)
    outbox       Slack messages not yet delivered: (id, thread_key, method post|reply|update,
                 payload JSON, status pending|sent|failed, attempts, next_attempt,
                 claimed_until, created, sent, error)
    threads      one Slack thread per identity's incident: (thread_key, identity, channel,
                 channel_id, ts, opened, last (event time), summary JSON)

Times are seconds since the epoch; ``event_time``, ``starts`` and the threads' times are
event time, everything else wall clock.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "ACTIVE",
    "ATTEMPTED",
    "CLICKABLE",
    "FINAL",
    "STATUSES",
    "ActionRow",
    "Ledger",
    "OutboxEntry",
    "SlackThread",
    "Suppression",
    "make_action_id",
    "read_suppressions",
]

SCHEMA_VERSION = 1

#: Every status an action row can have, and what it means.
STATUSES = {
    "offered": "an alert; a Revoke button is offered to the approvers",
    "escalated": "a revoke decision a guard kept from being automatic; waits for an approver",
    "protected": "on the never-revoke list: nothing will be done",
    "dry-run": "would have been revoked (dry-run mode)",
    "queued": "to be revoked; waiting for its next attempt",
    "in-flight": "an attempt is under way",
    "revoked": "revoked: Vault confirmed",
    "gone": "Vault no longer knows the credential (expired or revoked elsewhere)",
    "failed": "Vault refused (403 or a bad request): not retried",
    "benign": "an approver marked the alert benign",
}
#: Statuses a button click can still act on.
CLICKABLE = ("offered", "escalated")
#: Statuses after which nothing more happens to the credential.
FINAL = ("protected", "dry-run", "revoked", "gone", "failed", "benign")
#: Statuses of a revocation that is going to happen or is under way.
ACTIVE = ("queued", "in-flight")
#: Statuses that count as a revocation attempt for the storm guard.
ATTEMPTED = ("queued", "in-flight", "revoked", "gone", "failed", "dry-run")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    action_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    credential TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    alert_id TEXT,
    event_time REAL,
    identity TEXT NOT NULL,
    identity_name TEXT,
    service TEXT,
    team TEXT,
    policies TEXT,
    risk REAL,
    reasons TEXT,
    detectors TEXT,
    decision TEXT,
    status TEXT NOT NULL,
    guard TEXT,
    decided_by TEXT,
    decided REAL,
    blast_radius TEXT,
    result TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    claimed_until REAL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_queue ON actions (status, next_attempt);
CREATE INDEX IF NOT EXISTS actions_decided ON actions (decided_by, decided);
CREATE INDEX IF NOT EXISTS actions_identity ON actions (identity);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS history_action ON history (action_id);
CREATE TABLE IF NOT EXISTS requests (action_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS suppressions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    detectors TEXT NOT NULL,
    starts REAL NOT NULL,
    expires REAL NOT NULL,
    created REAL NOT NULL,
    created_by TEXT NOT NULL,
    alert_id TEXT,
    action_id TEXT
);
CREATE INDEX IF NOT EXISTS suppressions_expires ON suppressions (expires);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_key TEXT NOT NULL,
    method TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    claimed_until REAL,
    created REAL NOT NULL,
    sent REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, id);
CREATE TABLE IF NOT EXISTS threads (
    thread_key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    channel TEXT NOT NULL,
    channel_id TEXT,
    ts TEXT,
    opened REAL NOT NULL,
    last REAL NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS threads_identity ON threads (identity, last);
"""

_JSON_COLUMNS = ("policies", "reasons", "detectors", "blast_radius")


def make_action_id(event_id: str, credential: str) -> str:
    """The deterministic id of an action on ``credential`` asked for by ``event_id``.

    >>> make_action_id("e1", "acc1") == make_action_id("e1", "acc1")
    True
    """
    digest = hashlib.sha256(f"{event_id}\0{credential}".encode()).hexdigest()
    return "act-" + digest[:24]


@dataclass(slots=True)
class ActionRow:
    """One row of ``actions`` (JSON columns decoded)."""

    action_id: str
    kind: str
    credential: str
    event_id: str
    identity: str
    status: str
    alert_id: str | None = None
    event_time: float | None = None
    identity_name: str | None = None
    service: str | None = None
    team: str | None = None
    policies: list[str] = field(default_factory=list)
    risk: float | None = None
    reasons: list[str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    decision: str | None = None
    guard: str | None = None
    decided_by: str | None = None
    decided: float | None = None
    blast_radius: dict[str, Any] | None = None
    result: str | None = None
    attempts: int = 0
    next_attempt: float | None = None
    claimed_until: float | None = None
    dry_run: bool = False
    created: float = 0.0
    updated: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_ACTION_COLUMNS = tuple(f.name for f in fields(ActionRow))


@dataclass(slots=True)
class Suppression:
    """An approver's Benign (or Snooze) for one identity and pattern, until ``expires``."""

    id: int
    kind: str
    identity: str
    detectors: frozenset[str]
    starts: float
    expires: float
    created: float
    created_by: str
    alert_id: str | None = None
    action_id: str | None = None


@dataclass(slots=True)
class OutboxEntry:
    """A Slack message waiting in the outbox."""

    id: int
    thread_key: str
    method: str
    payload: dict[str, Any]
    attempts: int
    next_attempt: float


@dataclass(slots=True)
class SlackThread:
    """An identity's incident in Slack: its channel, the parent message and a summary."""

    thread_key: str
    identity: str
    channel: str
    opened: float
    last: float
    summary: dict[str, Any]
    channel_id: str | None = None
    ts: str | None = None


class Ledger:
    """The ledger file, opened once per process (thread-safe: one connection, one lock).

    Parameters
    ----------
    path
        The SQLite file (created with its directory, mode 0600: it names credentials).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch(mode=0o600)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._create()
        for suffix in ("-wal", "-shm"):  # they hold the same rows as the file
            companion = self.path.with_name(self.path.name + suffix)
            if str(path) != ":memory:" and companion.exists():
                companion.chmod(0o600)

    def _create(self) -> None:
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: a check and the write it allows, atomically
        (across threads by the lock, across processes by SQLite's write lock)."""
        with self._lock:
            if self._db.in_transaction:  # nested: the outer one commits
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def data_version(self) -> int:
        """Changes when another connection commits (cheap: no table is read)."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0]

    # -- action requests and rows --------------------------------------------------------

    def seen_request(self, action_id: str, now: float) -> bool:
        """Record a request id; ``True`` if it was seen before (a replay)."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO requests (action_id, at) VALUES (?, ?)", (action_id, now)
            )
            return cursor.rowcount == 0

    def insert(self, row: ActionRow, detail: str) -> bool:
        """Add a new row (``False`` if its credential already has one) and its history."""
        values = _encode(row)
        with self.transaction() as db:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO actions ({', '.join(_ACTION_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _ACTION_COLUMNS)})",
                [values[c] for c in _ACTION_COLUMNS],
            )
            if cursor.rowcount == 0:
                return False
            self._history(db, row.action_id, row.created, row.status, detail)
            return True

    def get(self, action_id: str) -> ActionRow | None:
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM actions WHERE action_id = ?", (action_id,)
            ).fetchone()
        return _decode(found) if found else None

    def by_credential(self, credential: str) -> ActionRow | None:
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM actions WHERE credential = ?", (credential,)
            ).fetchone()
        return _decode(found) if found else None

    def transition(
        self,
        action_id: str,
        status: str,
        detail: str,
        now: float,
        expect: Sequence[str] | None = None,
        **changes: Any,
    ) -> ActionRow | None:
        """Set a row's status (and other columns) if its status is one of ``expect``.

        Returns the updated row, or ``None`` when the row is not in an expected state
        (another thread or process got there first): the compare-and-set that keeps an
        action from being done twice.
        """
        assert status in STATUSES, status
        changes = {**changes, "status": status, "updated": now, "result": detail}
        encoded = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in changes.items()}
        assignments = ", ".join(f"{column} = ?" for column in encoded)
        sql = f"UPDATE actions SET {assignments} WHERE action_id = ?"
        parameters: list[Any] = [*encoded.values(), action_id]
        if expect is not None:
            sql += f" AND status IN ({', '.join('?' for _ in expect)})"
            parameters += list(expect)
        with self.transaction() as db:
            if db.execute(sql, parameters).rowcount == 0:
                return None
            self._history(db, action_id, now, status, detail)
            found = db.execute("SELECT * FROM actions WHERE action_id = ?", (action_id,))
            return _decode(found.fetchone())

    def note(self, action_id: str, status: str, detail: str, now: float) -> None:
        """A history line without a change of state (an attempt about to be made)."""
        with self.transaction() as db:
            self._history(db, action_id, now, status, detail)

    def claim(self, action_id: str, now: float, hold: float) -> ActionRow | None:
        """Take a queued row for one attempt (``in-flight`` until ``now + hold``)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM actions WHERE action_id = ? AND (status = 'queued' OR "
                "(status = 'in-flight' AND claimed_until < ?))",
                (action_id, now),
            ).fetchone()
            if row is None:
                return None
            attempts = row["attempts"] + 1
            db.execute(
                "UPDATE actions SET status = 'in-flight', attempts = ?, claimed_until = ?, "
                "updated = ? WHERE action_id = ?",
                (attempts, now + hold, now, action_id),
            )
            self._history(db, action_id, now, "in-flight", f"attempt {attempts}")
            claimed = db.execute("SELECT * FROM actions WHERE action_id = ?", (action_id,))
            return _decode(claimed.fetchone())

    def due(self, now: float) -> list[str]:
        """Queued rows whose next attempt is due, and attempts abandoned by a dead process."""
        with self._lock:
            rows = self._db.execute(
                "SELECT action_id FROM actions WHERE (status = 'queued' AND next_attempt <= ?) "
                "OR (status = 'in-flight' AND claimed_until < ?) ORDER BY next_attempt",
                (now, now),
            ).fetchall()
        return [r[0] for r in rows]

    def next_due(self) -> float | None:
        """When the earliest queued (or claimed) row becomes due."""
        with self._lock:
            found = self._db.execute(
                "SELECT MIN(CASE status WHEN 'queued' THEN next_attempt ELSE claimed_until END) "
                "FROM actions WHERE status IN ('queued', 'in-flight')"
            ).fetchone()[0]
        return found

    def waiting(self) -> int:
        """Rows queued or in flight: while any wait, new ones join the queue behind them."""
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM actions WHERE status IN ('queued', 'in-flight')"
            ).fetchone()[0]

    def automatic_since(self, since: float, service: str | None = None) -> int:
        """Automatic revocations decided since ``since`` (the storm guard's count)."""
        sql = (
            "SELECT COUNT(*) FROM actions WHERE decided_by = 'auto' AND decided >= ? "
            f"AND status IN ({', '.join('?' for _ in ATTEMPTED)})"
        )
        parameters: list[Any] = [since, *ATTEMPTED]
        if service is not None:
            sql += " AND service = ?"
            parameters.append(service)
        with self._lock:
            return self._db.execute(sql, parameters).fetchone()[0]

    def actions(
        self,
        statuses: Iterable[str] = (),
        identity: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[ActionRow]:
        """Rows, newest first, filtered as ``detector actions`` asks."""
        sql, parameters = "SELECT * FROM actions WHERE 1 = 1", []
        statuses = list(statuses)
        if statuses:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            parameters += statuses
        if identity:
            sql += " AND (identity GLOB ? OR identity_name GLOB ? OR service GLOB ?)"
            parameters += [identity] * 3
        if since is not None:
            sql += " AND updated >= ?"
            parameters.append(since)
        sql += " ORDER BY created DESC, action_id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return [_decode(r) for r in self._db.execute(sql, parameters).fetchall()]

    def history(self, action_id: str) -> list[tuple[float, str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, status, detail FROM history WHERE action_id = ? ORDER BY seq",
                (action_id,),
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    @staticmethod
    def _history(db: sqlite3.Connection, action_id: str, at: float, status: str, detail: str):
        db.execute(
            "INSERT INTO history (action_id, at, status, detail) VALUES (?, ?, ?, ?)",
            (action_id, at, status, detail),
        )

    # -- suppressions --------------------------------------------------------------------

    def add_suppression(
        self,
        kind: str,
        identity: str,
        detectors: Iterable[str],
        starts: float,
        expires: float,
        created: float,
        created_by: str,
        alert_id: str | None = None,
        action_id: str | None = None,
    ) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO suppressions (kind, identity, detectors, starts, expires, created, "
                "created_by, alert_id, action_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    identity,
                    json.dumps(sorted(set(detectors))),
                    starts,
                    expires,
                    created,
                    created_by,
                    alert_id,
                    action_id,
                ),
            )
            if action_id is not None:
                self._history(db, action_id, created, kind, f"{kind} by {created_by}")
            return int(cursor.lastrowid or 0)

    def suppressions(
        self, kind: str | None = None, after: float | None = None
    ) -> list[Suppression]:
        """Suppressions (of ``kind``) that have not expired by ``after``."""
        with self._lock:
            return _suppressions(self._db, kind, after)

    # -- Slack outbox and threads --------------------------------------------------------

    def enqueue(
        self, thread_key: str, method: str, payload: dict[str, Any], now: float
    ) -> int | None:
        """Add a Slack message to the outbox. A parent ``update`` already pending for the
        thread is not added twice: it renders the thread's latest summary when sent."""
        with self.transaction() as db:
            if method == "update":
                pending = db.execute(
                    "SELECT id FROM outbox WHERE thread_key = ? AND method = 'update' "
                    "AND status = 'pending' AND claimed_until IS NULL",
                    (thread_key,),
                ).fetchone()
                if pending is not None:
                    return None
            cursor = db.execute(
                "INSERT INTO outbox (thread_key, method, payload, next_attempt, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (thread_key, method, json.dumps(payload), now, now),
            )
            return int(cursor.lastrowid or 0)

    def pending_messages(self, now: float) -> list[OutboxEntry]:
        """Undelivered messages, oldest first (each thread's in the order written)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, thread_key, method, payload, attempts, next_attempt FROM outbox "
                "WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?) "
                "ORDER BY id",
                (now,),
            ).fetchall()
        return [OutboxEntry(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def claim_message(self, entry_id: int, now: float, hold: float) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 WHERE id = ? "
                "AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)",
                (now + hold, entry_id, now),
            )
            return cursor.rowcount == 1

    def message_sent(self, entry_id: int, now: float) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'sent', sent = ?, claimed_until = NULL, "
                "error = NULL WHERE id = ?",
                (now, entry_id),
            )

    def message_retry(self, entry_id: int, at: float, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET next_attempt = ?, claimed_until = NULL, error = ? WHERE id = ?",
                (at, error, entry_id),
            )

    def message_failed(self, entry_id: int, now: float, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'failed', sent = ?, claimed_until = NULL, "
                "error = ? WHERE id = ?",
                (now, error, entry_id),
            )

    def outbox(self, status: str | None = None) -> list[dict[str, Any]]:
        """Outbox rows as dicts (for tests and ``detector actions``' counts)."""
        sql, parameters = "SELECT * FROM outbox", []
        if status is not None:
            sql += " WHERE status = ?"
            parameters.append(status)
        with self._lock:
            return [dict(r) for r in self._db.execute(sql + " ORDER BY id", parameters)]

    def open_thread(self, identity: str, time: float, window: float) -> SlackThread | None:
        """The identity's latest thread if its last alert is at most ``window`` before
        ``time`` (event time)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM threads WHERE identity = ? ORDER BY last DESC LIMIT 1",
                (identity,),
            ).fetchone()
        if row is None or time - row["last"] > window:
            return None
        return _thread(row)

    def thread(self, thread_key: str) -> SlackThread | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM threads WHERE thread_key = ?", (thread_key,)
            ).fetchone()
        return _thread(row) if row else None

    def save_thread(self, thread: SlackThread) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO threads (thread_key, identity, channel, channel_id, ts, opened, "
                "last, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_key) DO "
                "UPDATE SET last = excluded.last, summary = excluded.summary, "
                "channel_id = COALESCE(excluded.channel_id, threads.channel_id), "
                "ts = COALESCE(excluded.ts, threads.ts)",
                (
                    thread.thread_key,
                    thread.identity,
                    thread.channel,
                    thread.channel_id,
                    thread.ts,
                    thread.opened,
                    thread.last,
                    json.dumps(thread.summary),
                ),
            )

    def thread_posted(self, thread_key: str, channel_id: str, ts: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE threads SET channel_id = ?, ts = ? WHERE thread_key = ?",
                (channel_id, ts, thread_key),
            )


def read_suppressions(path: Path, kind: str | None = None) -> list[Suppression]:
    """Suppressions read through a short-lived connection (none if there is no ledger):
    for a reader that must not hold the file open (it only reads)."""
    if not Path(path).exists():
        return []
    db = sqlite3.connect(str(path), timeout=10.0)
    try:
        db.row_factory = sqlite3.Row
        return _suppressions(db, kind, None)
    except sqlite3.OperationalError:  # a ledger being created: no table yet
        return []
    finally:
        db.close()


def _suppressions(db: sqlite3.Connection, kind: str | None, after: float | None):
    sql, parameters = "SELECT * FROM suppressions WHERE 1 = 1", []
    if kind is not None:
        sql += " AND kind = ?"
        parameters.append(kind)
    if after is not None:
        sql += " AND expires > ?"
        parameters.append(after)
    return [
        Suppression(
            id=r["id"],
            kind=r["kind"],
            identity=r["identity"],
            detectors=frozenset(json.loads(r["detectors"])),
            starts=r["starts"],
            expires=r["expires"],
            created=r["created"],
            created_by=r["created_by"],
            alert_id=r["alert_id"],
            action_id=r["action_id"],
        )
        for r in db.execute(sql + " ORDER BY id", parameters).fetchall()
    ]


def _encode(row: ActionRow) -> dict[str, Any]:
    values = row.as_dict()
    for column in _JSON_COLUMNS:
        values[column] = json.dumps(values[column])
    values["dry_run"] = int(row.dry_run)
    return values


def _decode(row: sqlite3.Row) -> ActionRow:
    values = {column: row[column] for column in _ACTION_COLUMNS}
    for column in _JSON_COLUMNS:
        raw = values[column]
        values[column] = json.loads(raw) if raw is not None else None
    values["policies"] = values["policies"] or []
    values["reasons"] = values["reasons"] or []
    values["detectors"] = values["detectors"] or []
    values["dry_run"] = bool(values["dry_run"])
    return ActionRow(**values)


def _thread(row: sqlite3.Row) -> SlackThread:
    return SlackThread(
        thread_key=row["thread_key"],
        identity=row["identity"],
        channel=row["channel"],
        channel_id=row["channel_id"],
        ts=row["ts"],
        opened=row["opened"],
        last=row["last"],
        summary=json.loads(row["summary"]),
    )
