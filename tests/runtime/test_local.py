"""The local runtime end to end: outputs and summary, restart without forgetting or
alerting twice, a private state file, following a growing log, and a clean SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
import threading
from pathlib import Path

import orjson
import pytest

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.errors import StateError
from detector.event import format_time
from detector.parsers.timestamps import parse_timestamp
from detector.pipeline import ScoredEvent
from detector.runtime.local import LocalRun, save_state

from .conftest import POLL, eventually

REPO = Path(__file__).resolve().parents[2]
VAULT = REPO / "pipelines" / "vault-local.toml"
CONTRACT = (
    "alert_id",
    "event_id",
    "time",
    "identity",
    "credential",
    "client_ip",
    "resource",
    "risk",
    "decision",
    "reasons",
)
SUMMARY = (
    "pipeline",
    "resumed",
    "records",
    "events",
    "scored",
    "alerts",
    "decisions",
    "deadletters",
    "counts",
    "identities",
    "identities_evicted",
    "first_event",
    "last_event",
    "seconds",
    "records_per_second",
    "events_per_second",
)


def local_run(simulated, out: Path, state: Path | None, **options) -> LocalRun:
    """The shipped vault-local pipeline, with the simulated organisation's inventory."""
    config = load_pipeline_file(VAULT)
    config.enrichers.service.inventory = str(simulated.inventory)
    return LocalRun(build_pipeline(config), out, state, config.source.reorder_window, **options)


def jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def log_lines(simulated) -> list[bytes]:
    return simulated.audit_log.read_bytes().splitlines(keepends=True)


def calls(lines: list[bytes]) -> set[str]:
    return {orjson.loads(line)["request"]["id"] for line in lines}


# -- one run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(simulated, tmp_path_factory):
    """One run over the simulated log and a file with a broken line in it."""
    directory = tmp_path_factory.mktemp("local")
    extra = directory / "extra.log"
    token = "hvs.CAESIJ1n2fakeTokenValue1234567890abcdef"
    extra.write_bytes(b"\n" + f'{{"time": "2026-11-03T00:00:00Z", "token": "{token}"'.encode())
    seen: list[ScoredEvent] = []
    run = local_run(simulated, directory / "out", directory / "state", on_scored=seen.append)
    summary = run.run([str(simulated.audit_log), str(extra)])
    return directory, extra, token, seen, summary


def test_run_writes_alerts_with_the_output_contract(finished):
    directory, _, _, seen, summary = finished
    alerts = jsonl(directory / "out" / "alerts.jsonl")
    assert alerts, "a simulated day with attacks has alerts"
    assert len(alerts) == summary["alerts"] == sum(summary["decisions"].values())
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    decided = {s.event.event_id for s in seen if s.decision is not None}
    assert {a["event_id"] for a in alerts} == decided
    for alert in alerts:
        assert set(CONTRACT) <= set(alert)
        assert alert["decision"] in ("alert", "revoke")
        assert all(isinstance(reason, str) for reason in alert["reasons"])
    times = [parse_timestamp(a["time"]) for a in alerts]
    assert times == sorted(times)  # scored in event-time order


def test_run_writes_broken_records_to_the_dead_letters_and_goes_on(finished):
    directory, extra, token, _, summary = finished
    (letter,) = jsonl(directory / "out" / "deadletter.jsonl")
    assert letter["reason"] == "not JSON"
    assert letter["origin"] == f"{extra}:2"
    assert token not in letter["raw"] and "<redacted>" in letter["raw"]
    assert summary["deadletters"] == 1
    assert summary["counts"]["deadletter: not JSON"] == 1


def test_summary_counts_what_the_run_did(simulated, finished):
    directory, _, _, seen, summary = finished
    assert orjson.loads((directory / "out" / "summary.json").read_bytes()) == summary
    assert set(SUMMARY) <= set(summary)
    lines = log_lines(simulated)
    assert summary["pipeline"] == "vault-local"
    assert summary["resumed"] is False
    assert summary["records"] == len(lines) + 1  # and the broken line; blank ones are not
    assert summary["events"] == len(calls(lines))
    assert (
        summary["scored"] == len(seen) == summary["events"] - summary["counts"].get("internal", 0)
    )
    assert summary["identities"] == len({s.event.identity for s in seen})
    assert summary["identities_evicted"] == 0
    assert summary["first_event"] == format_time(min(s.event.time for s in seen))
    assert summary["last_event"] == format_time(max(s.event.time for s in seen))
    assert summary["seconds"] > 0 and summary["records_per_second"] > 0


def test_state_file_is_readable_by_its_owner_only(finished):
    directory = finished[0]
    state = directory / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == ["extra.log", "out", "state"]


# -- restarts -------------------------------------------------------------------------------


def split_between_calls(lines: list[bytes]) -> int:
    """A line index near the middle where no request is waiting for its response."""
    waiting: set[str] = set()
    for index, line in enumerate(lines):
        if index >= len(lines) // 2 and not waiting:
            return index
        entry = orjson.loads(line)
        (waiting.add if entry["type"] == "request" else waiting.discard)(entry["request"]["id"])
    raise AssertionError("the log never rests between calls")


@pytest.fixture(scope="module")
def restarted(simulated, tmp_path_factory):
    """The log in two parts: once in one run; once stopped after part 1 and restarted on
    the whole log (a restart reads its input from the start again)."""
    directory = tmp_path_factory.mktemp("restart")
    lines = log_lines(simulated)
    middle = split_between_calls(lines)
    part1, part2 = directory / "part1.log", directory / "part2.log"
    part1.write_bytes(b"".join(lines[:middle]))
    part2.write_bytes(b"".join(lines[middle:]))

    whole = local_run(simulated, directory / "whole", None)
    whole_summary = whole.run([str(part1), str(part2)])
    first = local_run(simulated, directory / "out", directory / "state")
    first_summary = first.run([str(part1)])
    learned = {s.identity: (s.first_seen, s.events) for s in first.pipeline.model.store}
    second = local_run(simulated, directory / "out", directory / "state")
    known_at_start = {s.identity: (s.first_seen, s.events) for s in second.pipeline.model.store}
    second_summary = second.run([str(part1), str(part2)])
    return {
        "directory": directory,
        "whole": (whole, whole_summary),
        "first": (first, first_summary),
        "second": (second, second_summary),
        "learned": learned,
        "known_at_start": known_at_start,
    }


def test_restart_skips_what_was_scored_and_scores_the_rest(restarted):
    _, whole = restarted["whole"]
    _, first = restarted["first"]
    _, second = restarted["second"]
    assert second["resumed"] is True and first["resumed"] is False
    assert second["counts"]["already scored"] == first["scored"]
    assert first["scored"] + second["scored"] == whole["scored"]


def test_restart_does_not_alert_twice(restarted):
    directory = restarted["directory"]
    alerts = jsonl(directory / "out" / "alerts.jsonl")
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    uninterrupted = jsonl(directory / "whole" / "alerts.jsonl")
    assert sorted(a["alert_id"] for a in alerts) == sorted(a["alert_id"] for a in uninterrupted)
    _, first = restarted["first"]
    _, second = restarted["second"]
    assert first["alerts"] + second["alerts"] == len(alerts)


def test_restart_does_not_forget(restarted):
    learned, known = restarted["learned"], restarted["known_at_start"]
    assert learned and known == learned  # every identity of run 1, as run 1 left it
    whole, _ = restarted["whole"]
    second, _ = restarted["second"]
    after_restart = {
        s.identity: (s.first_seen, s.events, s.learned) for s in second.pipeline.model.store
    }
    in_one_go = {
        s.identity: (s.first_seen, s.events, s.learned) for s in whole.pipeline.model.store
    }
    assert after_restart == in_one_go


def test_state_of_another_pipeline_is_refused_at_start(simulated, tmp_path):
    config = load_pipeline_file(VAULT)
    config.name = "another"
    save_state(build_pipeline(config), tmp_path / "state")
    with pytest.raises(StateError, match="'another', not 'vault-local'"):
        local_run(simulated, tmp_path / "out", tmp_path / "state")


def test_run_without_a_state_file_keeps_nothing(simulated, tmp_path):
    part = tmp_path / "part.log"
    part.write_bytes(b"".join(log_lines(simulated)[:200]))
    summary = local_run(simulated, tmp_path / "out", None).run([str(part)])
    assert summary["scored"] > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "alerts.jsonl",
        "deadletter.jsonl",
        "summary.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "part.log"]


# -- following ------------------------------------------------------------------------------


def test_following_scores_appended_lines_and_stops_cleanly(simulated, tmp_path, reader_threads_end):
    lines = log_lines(simulated)
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(lines[:200]))
    seen: list[ScoredEvent] = []
    run = local_run(simulated, tmp_path / "out", tmp_path / "state", on_scored=seen.append)
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(run.run([str(log)], follow_sources=True, poll_interval=POLL))
    )
    thread.start()
    try:
        # Nothing later arrives: a quiet stream releases what the reorder buffer holds.
        assert eventually(lambda: len(seen) == len(calls(lines[:200])))
        with open(log, "ab") as f:
            f.write(b"".join(lines[200:400]))
        assert eventually(lambda: len(seen) == len(calls(lines[:400])))
    finally:
        run.stop()
        thread.join(10.0)
    assert not thread.is_alive()
    assert result["scored"] == len(seen)
    assert orjson.loads((tmp_path / "out" / "summary.json").read_bytes()) == result
    assert (tmp_path / "state").is_file()


def test_sigterm_stops_a_followed_run_cleanly(simulated, tmp_path, reader_threads_end):
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(log_lines(simulated)[:100]))
    terminated: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _: terminated.append(number))
    scoring = threading.Event()
    run = local_run(
        simulated, tmp_path / "out", tmp_path / "state", on_scored=lambda _: scoring.set()
    )

    def terminate() -> None:
        if scoring.wait(10.0):  # the run is under way: its handler is in place
            os.kill(os.getpid(), signal.SIGTERM)

    # If SIGTERM did not reach the run, this stops it and the test fails instead of hanging.
    watchdog = threading.Timer(15.0, run.stop)
    sender = threading.Thread(target=terminate)
    try:
        watchdog.start()
        sender.start()
        summary = run.run([str(log)], follow_sources=True, poll_interval=POLL)
        assert watchdog.is_alive(), "SIGTERM did not stop the run"
        assert terminated == []  # the run's own handler took it ...
        os.kill(os.getpid(), signal.SIGTERM)  # ... and gave the previous one back
        assert eventually(lambda: terminated == [signal.SIGTERM])
    finally:
        watchdog.cancel()
        sender.join(15.0)
        signal.signal(signal.SIGTERM, previous)
    assert summary["scored"] > 0
    assert orjson.loads((tmp_path / "out" / "summary.json").read_bytes()) == summary
    assert (tmp_path / "state").is_file()
