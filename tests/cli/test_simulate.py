"""``detector simulate``: the files it writes, what it reports, and bad options."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from detector.parsers.timestamps import parse_timestamp

from .conftest import detector

FILES = ["audit.log", "inventory.toml", "labels.jsonl", "scenarios.json"]


def test_simulate_writes_the_log_labels_scenarios_and_inventory(tmp_path):
    result = detector("simulate", "--out", tmp_path, "--seed", "3", "--days", "0.5")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == FILES
    lines = (tmp_path / "audit.log").read_bytes().splitlines()
    labels = (tmp_path / "labels.jsonl").read_bytes().splitlines()
    assert f"{len(lines):,} lines" in result.output
    assert f"{len(labels):,} attack events" in result.output
    assert str(tmp_path / "inventory.toml") in result.output
    kinds = {orjson.loads(line)["type"] for line in lines}
    assert kinds == {"request", "response"}


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    logs = {}
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        result = detector("simulate", "--out", tmp_path / name, "--seed", seed, "--days", "0.2")
        assert result.exit_code == 0, result.output
        logs[name] = (tmp_path / name / "audit.log").read_bytes()
    assert logs["a"] == logs["b"]
    assert logs["a"] != logs["c"]


def test_no_attacks_writes_no_labels(tmp_path):
    result = detector("simulate", "--out", tmp_path, "--days", "1", "--no-attacks")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "labels.jsonl").read_bytes().strip() == b""
    assert " 0 attack events" in result.output


def test_log_starts_at_start_and_lasts_its_days(tmp_path):
    start = "2026-01-05T10:00:00+01:00"
    result = detector("simulate", "--out", tmp_path, "--days", "0.25", "--start", start)
    assert result.exit_code == 0, result.output
    begin = datetime.fromisoformat(start)
    times = [
        parse_timestamp(orjson.loads(line)["time"])
        for line in (tmp_path / "audit.log").read_bytes().splitlines()
    ]
    assert begin.timestamp() <= min(times)
    assert max(times) <= (begin + timedelta(days=0.25)).timestamp()


def test_bad_options_are_usage_errors(tmp_path):
    for args, message in (
        (("--days", "0"), "--days"),
        (("--days", "-1"), "--days"),
        (("--scale", "0"), "--scale"),
        (("--start", "next tuesday"), "not an ISO date"),
    ):
        result = detector("simulate", "--out", tmp_path / "out", *args)
        assert result.exit_code == 2, args
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    result = detector("simulate")
    assert result.exit_code == 2 and "--out" in result.output
