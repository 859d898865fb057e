"""The store: written by the local runtime, read back through ``detector.store``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pandas as pd
import pytest

from detector.config import load_pipeline_file
from detector.errors import ConfigError
from detector.store import StoreError, StoreReader, StoreSink
from detector.store.schema import INDEXES, TABLES, describe
from detector.store.writer import connect

from .conftest import REPO, VAULT, store_run


def jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# -- schema and configuration -----------------------------------------------------------


def test_every_documented_column_and_index_exists(tmp_path):
    connection = connect(tmp_path / "store.sqlite")
    try:
        for table, (_, columns) in TABLES.items():
            found = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
            assert found == [name for name, _, _ in columns], table
        indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        assert set(INDEXES) <= indexes
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def test_the_readme_documents_the_schema():
    assert describe() in (REPO / "README.md").read_text()


def test_a_store_of_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "store.sqlite"
    connect(path).close()
    with sqlite3.connect(path) as old:
        old.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    old.close()
    with pytest.raises(ValueError, match="schema version 0"):
        connect(path)


def pipeline_file(path: Path, store: str) -> Path:
    """A minimal pipeline file with this ``[store]`` table."""
    profile = REPO / "models" / "default.toml"
    path.write_text(f'name = "p"\n[model]\nprofile = "{profile}"\n[store]\n{store}\n')
    return path


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("sample_rate = 2.0", "store.sample_rate"),
        ("score_floor = -0.1", "store.score_floor"),
        ('retention = "forever"', "store.retention"),
        ('snapshot_every = "0s"', "store.snapshot_every"),
        ("samplerate = 0.5", "store.samplerate"),
    ],
)
def test_a_bad_store_table_is_rejected_naming_the_file_and_key(tmp_path, line, key):
    path = pipeline_file(tmp_path / "bad.toml", f"enabled = true\n{line}")
    with pytest.raises(ConfigError) as error:
        load_pipeline_file(path)
    assert error.value.file == str(path)
    assert error.value.key == key


def test_durations_in_the_store_table_are_seconds(tmp_path):
    path = pipeline_file(tmp_path / "p.toml", 'snapshot_every = "6h"\nretention = "14d"')
    store = load_pipeline_file(path).store
    assert (store.snapshot_every, store.retention) == (21600.0, 1209600.0)


# -- written by a run, read back --------------------------------------------------------


def test_alerts_and_events_read_back_as_the_run_wrote_them(stored):
    out, summary = stored
    reader = StoreReader(out / "store.sqlite")
    alerts = reader.alerts()
    written = jsonl(out / "alerts.jsonl")
    assert list(alerts["alert_id"]) == [a["alert_id"] for a in written]
    assert alerts["record"].tolist() == written
    assert alerts["decision"].value_counts().to_dict() == summary["decisions"]
    assert isinstance(alerts["time"].dtype, pd.DatetimeTZDtype)
    events = reader.events()
    assert len(events) == summary["scored"]
    assert (events["weight"] == 1.0).all()
    assert events["time"].is_monotonic_increasing
    decided = events[events["decision"].notna()]
    assert set(decided["event_id"]) == set(alerts["event_id"])
    assert decided["reasons"].map(len).min() >= 1


def test_every_revoke_decision_is_an_action_on_its_credential(stored):
    out, _ = stored
    reader = StoreReader(out / "store.sqlite")
    revokes = reader.alerts(decision="revoke")
    actions = reader.actions()
    assert len(revokes) > 0
    assert list(actions["alert_id"]) == list(revokes["alert_id"])
    assert list(actions["credential"]) == list(revokes["credential"])
    assert set(actions["status"]) == {"decided"} and set(actions["kind"]) == {"revoke"}
    auto = [r["auto_revoke"] for r in revokes["record"]]
    assert actions["auto_revoke"].tolist() == auto


def test_since_counts_back_from_the_end_of_the_data(stored):
    out, _ = stored
    reader = StoreReader(out / "store.sqlite")
    every = reader.alerts()
    end = reader.events()["time"].max()
    recent = reader.alerts(since="6h")
    assert 0 < len(recent) < len(every)
    assert list(recent["alert_id"]) == list(
        every.loc[every["time"] >= end - pd.Timedelta(hours=6), "alert_id"]
    )
    one = every["identity"].iloc[0]
    assert set(reader.alerts(identity=one)["identity"]) == {one}
    assert len(reader.alerts(since=end.isoformat())) == (every["time"] >= end).sum()


def test_an_identity_baseline_shows_what_the_model_learned(stored):
    out, _ = stored
    reader = StoreReader(out / "store.sqlite")
    identity = reader.identities().sort_values("events").iloc[-1]["identity"]
    events = reader.events(identity=identity)
    baseline = reader.identity_baseline(identity)
    assert baseline is not None and baseline.taken_at == reader.span()[1]  # the run's end
    assert baseline.hours.shape == (7, 24)
    assert baseline.hours.to_numpy().sum() == pytest.approx(1.0, abs=1e-3)
    # The hours it was active in hold its activity (Monday: the simulation starts on one).
    active = set(events["time"].dt.hour)
    assert baseline.hours.loc["Mon", sorted(active)].sum() == pytest.approx(1.0, abs=1e-3)
    assert baseline.networks["network"].iloc[0] == events["network"].mode().iloc[0]
    assert baseline.volume_by_hour[sorted(active)].notna().any()
    assert baseline.events == len(events)
    # Snapshots every 6 h: the one taken before noon knows less.
    earlier = reader.identity_baseline(identity, at=events["time"].min() + pd.Timedelta(hours=8))
    assert earlier is not None and earlier.taken_at < baseline.taken_at
    assert earlier.events < baseline.events
    assert reader.identity_baseline(identity, at=events["time"].min()) is None
    assert reader.identity_baseline("nobody") is None


def test_secret_consumers_count_every_read_and_leave_out_control_paths(stored):
    out, summary = stored
    reader = StoreReader(out / "store.sqlite")
    consumers = reader.secret_consumers()
    events = reader.events(actions=["read"])
    reads = events[~events["secret"].str.match(r"(sys|auth|identity|cubbyhole)/")]
    expected = reads.groupby(["secret", "identity"]).size()
    assert (
        consumers.set_index(["secret", "identity"])["reads"]
        .sort_index()
        .equals(expected.sort_index())
    )
    accesses = reader.accesses()
    assert accesses["count"].sum() == summary["scored"]


def test_stale_secrets_are_those_nobody_read_lately(stored):
    out, _ = stored
    reader = StoreReader(out / "store.sqlite")
    stale = reader.stale_secrets("12h")
    end = reader.events()["time"].max()
    consumers = reader.secret_consumers()
    last = consumers.groupby("secret")["last_time"].max()
    assert set(stale["secret"]) == set(last[last < end - pd.Timedelta(hours=12)].index)
    assert len(stale) > 0


def test_a_missing_store_is_an_error_not_an_empty_answer(tmp_path):
    with pytest.raises(StoreError, match="no store"):
        StoreReader(tmp_path / "none.sqlite")


# -- how much is kept, for how long, and when the disk fails ----------------------------


def test_sampling_keeps_every_risky_event_and_the_same_share_of_the_rest(simulated, tmp_path):
    summaries = [
        store_run(simulated, tmp_path / name, score_floor=0.2, sample_rate=0.1)
        for name in ("a", "b")
    ]
    a, b = (StoreReader(tmp_path / name / "store.sqlite").events() for name in ("a", "b"))
    assert list(a["event_id"]) == list(b["event_id"])  # by event id: replays agree
    full = StoreReader(tmp_path / "a" / "store.sqlite")
    risky = a[a["risk"] >= 0.2]
    assert (risky["weight"] == 1.0).all()
    assert len(full.alerts()) == summaries[0]["alerts"]  # alerts are never sampled
    below = a[a["risk"] < 0.2]
    total_below = summaries[0]["scored"] - len(risky)
    assert (below["weight"] == 10.0).all()
    assert 0.07 < len(below) / total_below < 0.13
    # The weights stand for the events not kept; accesses count every one.
    assert a["weight"].sum() == pytest.approx(summaries[0]["scored"], rel=0.15)
    assert full.accesses()["count"].sum() == summaries[0]["scored"]


def test_a_second_run_over_the_same_log_adds_nothing_twice(simulated, tmp_path):
    store_run(simulated, tmp_path)
    reader = StoreReader(tmp_path / "store.sqlite")
    first = (len(reader.events()), len(reader.alerts()), len(reader.actions()))
    store_run(simulated, tmp_path)
    assert (len(reader.events()), len(reader.alerts()), len(reader.actions())) == first
    assert len(reader.runs()) == 2


def test_retention_deletes_old_events_and_keeps_alerts(simulated, tmp_path):
    store_run(simulated, tmp_path, retention=6 * 3600.0, snapshot_every=3600.0)
    reader = StoreReader(tmp_path / "store.sqlite")
    events = reader.events()
    span = events["time"].max() - events["time"].min()
    assert span <= pd.Timedelta(hours=7)  # applied at every hourly snapshot
    assert reader.alerts()["time"].min() < events["time"].min()
    assert reader.baselines()["taken_at"].min() >= events["time"].max() - pd.Timedelta(hours=7)


def test_a_store_that_cannot_be_written_does_not_stop_detection(simulated, tmp_path):
    without = store_run(simulated, tmp_path / "without", enabled=False)
    broken = tmp_path / "broken"
    (broken / "store.sqlite").mkdir(parents=True)  # a directory where the file should be
    summary = store_run(simulated, broken)
    assert summary["decisions"] == without["decisions"]
    assert jsonl(broken / "alerts.jsonl") == jsonl(tmp_path / "without" / "alerts.jsonl")
    store = summary["sinks"]["store"]
    assert store["errors"] >= 1 and store["events_dropped"] == summary["scored"]


def test_a_store_failing_mid_run_writes_the_batch_again_with_the_next(simulated, tmp_path):
    from detector.build import build_pipeline
    from detector.runtime.local import LocalRun

    config = load_pipeline_file(VAULT)
    config.enrichers.service.inventory = str(simulated.inventory)
    path = tmp_path / "store.sqlite"
    sink = StoreSink(path, "vault-local", batch_size=500)
    seen = [0]

    def sabotage(_) -> None:
        seen[0] += 1
        if seen[0] == 1200:  # between two batches: the next write finds no table
            with sqlite3.connect(path) as other:
                other.execute("DROP TABLE events")
            other.close()

    run = LocalRun(build_pipeline(config), tmp_path, None, 300.0, on_scored=sabotage, sinks=[sink])
    summary = run.run([str(simulated.audit_log)])
    assert sink.errors == 1 and sink.dropped == 0
    kept = len(StoreReader(path).events())
    assert kept == summary["scored"] - 1000  # the table was recreated, the batch written


def test_a_store_locked_by_another_process_catches_up_once_released(simulated, tmp_path):
    """A real fault: another SQLite connection holds the write lock for a while. Detection
    goes on, the failures are reported, and every event reaches the store afterwards."""
    from detector.build import build_pipeline
    from detector.runtime.local import LocalRun

    config = load_pipeline_file(VAULT)
    config.enrichers.service.inventory = str(simulated.inventory)
    path = tmp_path / "store.sqlite"
    sink = StoreSink(path, "vault-local", batch_size=500)
    seen = [0]
    holder: list[sqlite3.Connection] = []

    def lock_for_a_while(_) -> None:
        seen[0] += 1
        if seen[0] == 1200:
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")  # the write lock, held
            holder.append(other)
        elif seen[0] == 2300:
            holder[0].execute("ROLLBACK")
            holder[0].close()

    run = LocalRun(
        build_pipeline(config), tmp_path, None, 300.0, on_scored=lock_for_a_while, sinks=[sink]
    )
    summary = run.run([str(simulated.audit_log)])
    assert sink.errors >= 1  # reported (a warning and the count in the summary)
    assert summary["sinks"]["store"]["errors"] == sink.errors
    assert sink.dropped == 0 and summary["sinks"]["store"]["events_waiting"] == 0
    reader = StoreReader(path)
    assert len(reader.events()) == summary["scored"]
    assert len(reader.alerts()) == sum(summary["decisions"].values())
