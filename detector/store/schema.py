"""The store's tables, documented column by column, and the indexes the notebooks need.

Times are event time in seconds since the epoch (UTC), as every model uses them: a replay
of last month's log fills the store with last month's times. JSON columns hold lists and
objects as the alert file writes them. The README's "The store" table is this module's
:data:`TABLES`, and a test checks that every documented column exists.
"""

from __future__ import annotations

import sqlite3

__all__ = ["INDEXES", "SCHEMA_VERSION", "TABLES", "create", "ddl", "describe"]

SCHEMA_VERSION = 1

#: table -> (what a row is, [(column, SQL type and constraints, meaning)])
TABLES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "events": (
        "one scored event (all of them, or those at or above `score_floor` and a sample "
        "of the rest)",
        [
            ("event_id", "TEXT NOT NULL", "Vault `request.id` / CloudTrail `eventID`"),
            ("time", "REAL NOT NULL", "event time"),
            ("source", "TEXT NOT NULL", "`vault`, `cloudtrail`, or `pipeline` (health)"),
            ("identity", "TEXT NOT NULL", "as in alerts.jsonl"),
            ("identity_name", "TEXT", "a readable name"),
            ("credential", "TEXT", "token accessor / access key id"),
            ("client_ip", "TEXT", "client address"),
            ("user_agent", "TEXT", "client software, if audited"),
            ("action", "TEXT NOT NULL", "`read`, `list`, `login`, `token-create`, …"),
            ("resource", "TEXT NOT NULL", "path or ARN as logged"),
            ("secret", "TEXT NOT NULL", "the resource normalised (KV v2 `data/` removed, ids `*`)"),
            ("outcome", "TEXT NOT NULL", "`ok`, `denied`, `error`"),
            ("ip_class", "TEXT", "`public`, `private`, `loopback`, …"),
            ("network", "TEXT", "the client's network (CIDR)"),
            ("country", "TEXT", "ISO code, public addresses"),
            ("city", "TEXT", "public addresses"),
            ("asn", "INTEGER", "with an ASN database"),
            ("service", "TEXT", "from the inventory"),
            ("team", "TEXT", "owning team, from the inventory"),
            ("sensitivity", "TEXT", "`low` … `critical`"),
            ("risk", "REAL NOT NULL", "in [0, 1]"),
            ("decision", "TEXT", "`alert`, `revoke` or NULL"),
            ("reasons", "TEXT", "JSON list, events with risk > 0"),
            ("detectors", "TEXT", "JSON object detector -> weighted score, risk > 0"),
            (
                "weight",
                "REAL NOT NULL",
                "events this row stands for (1 / `sample_rate` if sampled)",
            ),
        ],
    ),
    "alerts": (
        "one alert or revoke decision, and every pipeline-health alert (an alert id once)",
        [
            ("alert_id", "TEXT PRIMARY KEY", "deterministic from `event_id`"),
            ("event_id", "TEXT NOT NULL", "the event alerted on"),
            ("time", "REAL NOT NULL", "event time"),
            ("source", "TEXT NOT NULL", "`pipeline` for health alerts"),
            ("identity", "TEXT NOT NULL", "`pipeline:<name>` for health alerts"),
            ("identity_name", "TEXT", ""),
            ("credential", "TEXT", "the credential to revoke"),
            ("client_ip", "TEXT", ""),
            ("geo", "TEXT", "place, as in the alert"),
            ("country", "TEXT", ""),
            ("action", "TEXT NOT NULL", "`health:<check>` for health alerts"),
            ("resource", "TEXT NOT NULL", ""),
            ("outcome", "TEXT", ""),
            ("service", "TEXT", ""),
            ("team", "TEXT", ""),
            ("sensitivity", "TEXT", ""),
            ("risk", "REAL NOT NULL", "in [0, 1]"),
            ("decision", "TEXT NOT NULL", "`alert` or `revoke`"),
            ("reasons", "TEXT NOT NULL", "JSON list, strongest first"),
            ("record", "TEXT NOT NULL", "the whole alert as in alerts.jsonl (JSON)"),
        ],
    ),
    "actions": (
        "what was decided about a credential: the store writes `decided` for every revoke "
        "decision; the revocation ledger (issue #4) may add rows with what was done",
        [
            ("action_id", "TEXT PRIMARY KEY", "`<alert_id>:<kind>:<status>`"),
            ("alert_id", "TEXT NOT NULL", "the revoke decision (`alerts`)"),
            ("event_id", "TEXT NOT NULL", ""),
            ("time", "REAL NOT NULL", "event time of the decision's event"),
            ("identity", "TEXT NOT NULL", ""),
            ("credential", "TEXT", "the token accessor / key to act on"),
            ("kind", "TEXT NOT NULL", "`revoke`"),
            ("status", "TEXT NOT NULL", "`decided` (the ledger: `requested`, `done`, …)"),
            ("auto_revoke", "INTEGER NOT NULL", "whether the inventory allows acting on it"),
            ("risk", "REAL", ""),
            ("recorded_at", "REAL NOT NULL", "wall-clock time the row was written"),
            ("detail", "TEXT", "JSON: service, team, reasons"),
        ],
    ),
    "accesses": (
        "who touched which secret from where: counts kept for every event, sampled or not",
        [
            ("secret", "TEXT NOT NULL", "normalised resource"),
            ("identity", "TEXT NOT NULL", ""),
            ("action", "TEXT NOT NULL", ""),
            ("outcome", "TEXT NOT NULL", ""),
            ("network", "TEXT NOT NULL", "client network ('' if none)"),
            ("identity_name", "TEXT", ""),
            ("service", "TEXT", ""),
            ("team", "TEXT", ""),
            ("country", "TEXT", ""),
            ("city", "TEXT", ""),
            ("asn", "INTEGER", ""),
            ("count", "INTEGER NOT NULL", "events"),
            ("alerts", "INTEGER NOT NULL", "of which alerted or revoked"),
            ("max_risk", "REAL NOT NULL", "the highest risk among them"),
            ("first_time", "REAL NOT NULL", "event time of the first"),
            ("last_time", "REAL NOT NULL", "event time of the last"),
        ],
    ),
    "baselines": (
        "a snapshot of one identity's learned baseline, every `snapshot_every` of event time "
        "for the identities seen since the last one, and at the end of a run",
        [
            ("identity", "TEXT NOT NULL", ""),
            ("taken_at", "REAL NOT NULL", "event time of the snapshot"),
            ("events", "INTEGER NOT NULL", "events seen"),
            ("learned", "INTEGER NOT NULL", "events learned from"),
            ("first_seen", "REAL NOT NULL", "event time of its first event"),
            ("last_seen", "REAL NOT NULL", "event time of its last event"),
            ("maturity", "REAL", "how far through its learning period, [0, 1]"),
            (
                "baseline",
                "TEXT NOT NULL",
                "JSON: `hours` (168 shares, Monday 00:00 UTC first), `usual_hours`, "
                "`networks`, `places`, `clients` ([key, decayed events]), `volume` (window, "
                "windows, mean and peak requests, `hourly` mean requests per window by hour "
                "of day), `novelty` (new network / secret rates)",
            ),
        ],
    ),
    "runs": (
        "one run of the local runtime (or a worker's session)",
        [
            ("run_id", "TEXT PRIMARY KEY", "random"),
            ("pipeline", "TEXT NOT NULL", "the pipeline's name"),
            ("started_at", "REAL NOT NULL", "wall clock"),
            ("finished_at", "REAL", "wall clock"),
            ("first_event", "REAL", "event time"),
            ("last_event", "REAL", "event time"),
            (
                "summary",
                "TEXT",
                "JSON: what the store sink did (events handled and kept, rows written, "
                "failed writes, events dropped)",
            ),
        ],
    ),
    "meta": (
        "the schema version and the pipeline that writes the store",
        [
            ("key", "TEXT PRIMARY KEY", "`schema_version`, `pipeline`"),
            ("value", "TEXT NOT NULL", "its value"),
        ],
    ),
}

#: index name -> (table, columns[, where]) for the notebooks' and report's queries
INDEXES: dict[str, tuple[str, str, str]] = {
    "events_identity_time": ("events", "identity, time", ""),
    "events_risky": ("events", "risk", "risk > 0"),
    "alerts_time": ("alerts", "time", ""),
    "alerts_identity_time": ("alerts", "identity, time", ""),
    "actions_time": ("actions", "time", ""),
    "actions_credential": ("actions", "credential", ""),
    "accesses_identity": ("accesses", "identity", ""),
    "accesses_last_time": ("accesses", "last_time", ""),
}

_KEYS = {
    # An event once, and its time first: the index grows at its end, and serves time ranges.
    "events": "UNIQUE (time, event_id)",
    "accesses": "PRIMARY KEY (secret, identity, action, outcome, network)",
    "baselines": "PRIMARY KEY (identity, taken_at)",
}


def ddl() -> list[str]:
    """The statements that create the schema (idempotent)."""
    statements = []
    for table, (_, columns) in TABLES.items():
        body = [f"{name} {kind}" for name, kind, _ in columns]
        if table in _KEYS:
            body.append(_KEYS[table])
        statements.append(f"CREATE TABLE IF NOT EXISTS {table} (\n  " + ",\n  ".join(body) + ")")
    for name, (table, columns, where) in INDEXES.items():
        condition = f" WHERE {where}" if where else ""
        statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns}){condition}")
    return statements


def create(connection: sqlite3.Connection) -> None:
    """Create the tables and indexes if missing and record the schema version.

    A store written by another schema version is refused (``ValueError``) rather than
    silently mixed.
    """
    with connection:
        for statement in ddl():
            connection.execute(statement)
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif row[0] != str(SCHEMA_VERSION):
            raise ValueError(
                f"store schema version {row[0]}, this detector writes {SCHEMA_VERSION}"
            )


def describe() -> str:
    """The schema as Markdown (the README's tables); a column without a meaning of its own
    means what it means in ``events``."""
    in_events = {name for name, _, _ in TABLES["events"][1]}
    lines = []
    for table, (what, columns) in TABLES.items():
        lines.append(f"`{table}` — {what}.\n")
        lines.append("| column | type | meaning |")
        lines.append("|---|---|---|")
        for name, kind, meaning in columns:
            if not meaning and table != "events" and name in in_events:
                meaning = "as in `events`"
            lines.append(f"| `{name}` | {kind.split()[0]} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
