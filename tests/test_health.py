"""Pipeline health as detections, each triggered on a crafted log (and not on the plain one).

Replays are judged in event time (a hole in the log); followed live streams in wall-clock
time (a file that stops growing, a clock that is off).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.event import format_time
from detector.health import HealthMonitor, HealthSettings
from detector.parsers.timestamps import parse_timestamp
from detector.pipeline import ScoredEvent
from detector.runtime.local import LocalRun

VAULT = Path(__file__).resolve().parents[1] / "pipelines" / "vault-local.toml"
POLL = 0.05
PIPELINE_IDENTITY = "pipeline:vault-local"


class Recorder:
    """A sink that keeps what it is handed (as the store and Slack would be)."""

    def __init__(self) -> None:
        self.handled: list[ScoredEvent] = []

    def handle(self, scored: ScoredEvent) -> None:
        self.handled.append(scored)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def local_run(simulated, out: Path, sinks=(), health: HealthMonitor | None = None) -> LocalRun:
    config = load_pipeline_file(VAULT)
    config.enrichers.service.inventory = str(simulated.inventory)
    return LocalRun(
        build_pipeline(config),
        out,
        None,
        config.source.reorder_window,
        sinks=list(sinks),
        health=health,
    )


def health_alerts(out: Path) -> list[dict]:
    alerts = [orjson.loads(line) for line in (out / "alerts.jsonl").read_bytes().splitlines()]
    return [a for a in alerts if a["identity"] == PIPELINE_IDENTITY]


def lines_of(simulated) -> list[bytes]:
    return simulated.audit_log.read_bytes().splitlines(keepends=True)


def entry_time(line: bytes) -> float:
    return parse_timestamp(orjson.loads(line)["time"])


def retimed(lines: list[bytes], times: Callable[[int, float], float]) -> list[bytes]:
    """The lines with each entry's time replaced by ``times(index, original time)``."""
    out = []
    for i, line in enumerate(lines):
        entry = orjson.loads(line)
        entry["time"] = format_time(times(i, parse_timestamp(entry["time"])))
        out.append(orjson.dumps(entry) + b"\n")
    return out


#: The simulated log is one day: the checks judge after six hours of it, not a day and a half.
DAY_LOG = HealthSettings(warm_up_seconds=6 * 3600.0)


def replay(simulated, tmp_path: Path, lines: list[bytes]) -> tuple[dict, Recorder]:
    log = tmp_path / "crafted.log"
    log.write_bytes(b"".join(lines))
    recorder = Recorder()
    health = HealthMonitor("vault-local", DAY_LOG)
    summary = local_run(simulated, tmp_path / "out", [recorder], health).run([str(log)])
    return summary, recorder


@pytest.fixture(scope="module")
def plain(simulated, tmp_path_factory) -> Path:
    """The simulated day replayed unchanged: no health alert at all."""
    out = tmp_path_factory.mktemp("plain")
    replay(simulated, out, lines_of(simulated))
    return out / "out"


def test_the_plain_log_raises_no_health_alert(plain):
    assert health_alerts(plain) == []
    assert orjson.loads((plain / "summary.json").read_bytes())["health_alerts"] == {}


# -- silence ------------------------------------------------------------------------------


def test_a_hole_in_a_replayed_log_is_a_silence_alert(simulated, tmp_path):
    lines = lines_of(simulated)
    start = entry_time(lines[0]) + 12 * 3600
    kept = [line for line in lines if not start <= entry_time(line) < start + 3 * 3600]
    summary, recorder = replay(simulated, tmp_path, kept)
    (alert,) = health_alerts(tmp_path / "out")
    assert alert["action"] == "health:silence" and alert["decision"] == "alert"
    assert alert["source"] == "pipeline"
    assert "no events from" in alert["reasons"][0] and "3 h" in alert["reasons"][0]
    # Raised when events resume, in event time: a replay gives the same alert every time.
    assert start + 3 * 3600 <= parse_timestamp(alert["time"]) < start + 3 * 3600 + 600
    assert summary["health_alerts"] == {"silence": 1}
    # Handed to the sinks like any alert (the store, Slack), not to the model.
    handed = [s for s in recorder.handled if s.event.identity == PIPELINE_IDENTITY]
    assert [s.alert_record() for s in handed] == [alert]
    assert summary["scored"] == len(recorder.handled) - 1


def test_the_usual_gaps_of_a_quiet_stream_are_not_silences():
    """A stream quiet every night learns that its nights are quiet."""
    monitor = HealthMonitor("p", HealthSettings(warm_up_events=100))
    scored, t = 0, None
    for day in range(10):
        for minute in range(0, 16 * 60, 2):  # busy from 06:00 to 22:00, one event a 2 min
            before, t = t, day * 86400 + 6 * 3600 + minute * 60
            scored += 1
            if before is None:
                monitor.observe(t, scored)
            else:  # every gap over gap_floor is reported (the runtime does this)
                monitor.gap(before, t, scored)
    assert monitor.drain() == []
    assert monitor.silence_threshold() >= 4 * 8 * 3600  # four nights' worth
    monitor.gap(t, t + 2 * 86400, scored + 1)  # two days without an event
    (alert,) = monitor.drain()
    assert alert.event.action == "health:silence"


def test_a_live_stream_that_stops_is_a_silence_alert_while_it_lasts(simulated, tmp_path):
    """Following: judged in wall-clock time, raised without waiting for the next event."""
    now = time.time()
    lines = retimed(lines_of(simulated)[:400], lambda i, _: now - 10 + i * 0.02)
    settings = HealthSettings(
        gap_floor=0.05, min_silence=0.5, warm_up_events=50, warm_up_seconds=0.0
    )
    with following(simulated, tmp_path, lines, settings) as run:
        assert eventually(lambda: run.health.raised["silence"] == 1)
        time.sleep(0.3)
    (alert,) = health_alerts(tmp_path / "out")
    assert alert["action"] == "health:silence" and "and counting" in alert["reasons"][0]


# -- hashed accessors ---------------------------------------------------------------------


def test_hashed_accessors_are_an_alert_once(simulated, tmp_path):
    def hashed(match: re.Match) -> bytes:
        digest = hashlib.sha256(match.group(2)).hexdigest()
        return match.group(1) + b'"hmac-sha256:' + digest.encode() + b'"'

    pattern = re.compile(rb'("(?:client_token_)?accessor":)"([^"]+)"')
    lines = [pattern.sub(hashed, line) for line in lines_of(simulated)]
    summary, _ = replay(simulated, tmp_path, lines)
    (alert,) = health_alerts(tmp_path / "out")
    assert alert["action"] == "health:hashed-accessor"
    assert "hmac_accessor=false" in alert["reasons"][0]
    assert "revocation" in alert["reasons"][0]
    assert summary["health_alerts"] == {"hashed-accessor": 1}
    # Stamped with event time, not the wall clock: within the log's day.
    assert entry_time(lines[0]) <= parse_timestamp(alert["time"]) <= entry_time(lines[-1])


# -- dead letters -------------------------------------------------------------------------


def test_a_burst_of_dead_letters_is_an_alert(simulated, tmp_path):
    lines = lines_of(simulated)
    garbage = [f"<html>502 Bad Gateway {i}</html>\n".encode() for i in range(300)]
    summary, _ = replay(simulated, tmp_path, lines[:6000] + garbage + lines[6000:])
    (alert,) = health_alerts(tmp_path / "out")
    assert alert["action"] == "health:deadletters"
    assert "300 dead letters" in alert["reasons"][0] and "'not JSON' 300" in alert["reasons"][0]
    assert summary["deadletters"] == 300


def test_dead_letters_at_the_usual_trickle_are_not_an_alert(simulated, tmp_path):
    lines = lines_of(simulated)
    trickled: list[bytes] = []
    for i, line in enumerate(lines):
        trickled.append(line)
        if i % 400 == 0:
            trickled.append(b"not json at all\n")
    summary, _ = replay(simulated, tmp_path, trickled)
    assert summary["deadletters"] > 30
    assert health_alerts(tmp_path / "out") == []


# -- clock drift --------------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "word"), [(3600.0, "ahead of"), (-3600.0, "behind")])
def test_a_stream_whose_clock_is_off_is_a_clock_drift_alert(simulated, tmp_path, offset, word):
    now = time.time()
    lines = retimed(lines_of(simulated)[:300], lambda i, _: now + offset + i * 0.01)
    with following(simulated, tmp_path, lines, chunks=5) as run:
        assert eventually(lambda: run.health.raised["clock-drift"] == 1)
    (alert,) = health_alerts(tmp_path / "out")
    assert alert["action"] == "health:clock-drift"
    assert f"60 min {word} this host's" in alert["reasons"][0]


def test_a_stream_in_time_is_not_drifting(simulated, tmp_path):
    now = time.time()
    lines = retimed(lines_of(simulated)[:300], lambda i, _: now - 3 + i * 0.01)
    with following(simulated, tmp_path, lines, chunks=5) as run:
        assert eventually(lambda: run.pipeline.scored > 100)
        time.sleep(0.5)
    assert health_alerts(tmp_path / "out") == []


def test_a_replay_of_an_old_log_is_not_drifting(plain):
    """The plain day is of November 2026, replayed now: old by design, not drift."""
    assert not [a for a in health_alerts(plain) if a["action"] == "health:clock-drift"]


# -- following, in a thread ---------------------------------------------------------------


class following:
    """Follow a growing file with a local run in a thread: the lines are written in
    ``chunks`` a few polls apart; the run is stopped and joined on exit."""

    def __init__(
        self,
        simulated,
        tmp_path: Path,
        lines: list[bytes],
        settings: HealthSettings | None = None,
        chunks: int = 1,
    ) -> None:
        self.log = tmp_path / "live.log"
        self.log.write_bytes(b"")
        health = HealthMonitor("vault-local", settings)
        self.run = local_run(simulated, tmp_path / "out", health=health)
        self.lines, self.chunks = lines, chunks
        self.thread = threading.Thread(
            target=lambda: self.run.run([str(self.log)], follow_sources=True, poll_interval=POLL)
        )

    def __enter__(self) -> LocalRun:
        self.thread.start()
        size = -(-len(self.lines) // self.chunks)
        for start in range(0, len(self.lines), size):
            with open(self.log, "ab") as f:
                f.write(b"".join(self.lines[start : start + size]))
            time.sleep(6 * POLL)
        return self.run

    def __exit__(self, *_) -> None:
        self.run.stop()
        self.thread.join(10.0)
        assert not self.thread.is_alive()
        for thread in threading.enumerate():
            if "_follow_" in thread.name:
                thread.join(5.0)


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
