"""``detector run``: sources, outputs, state across runs, and errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import orjson

from detector.config import load_pipeline_file

from .conftest import REPO, VAULT, detector, failed_cleanly


def jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def summary(out: Path) -> dict:
    return orjson.loads((out / "summary.json").read_bytes())


def calls(path: Path) -> int:
    return len({orjson.loads(line)["request"]["id"] for line in path.read_bytes().splitlines()})


def run(tmp_path: Path, *args: str | Path, input: bytes | None = None):
    return detector(
        "run", VAULT, "--out", tmp_path / "out", "--state", tmp_path / "state", *args, input=input
    )


def test_run_scores_a_file_and_writes_outputs_and_state(tmp_path, small_log):
    result = run(tmp_path, "--source", small_log)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "alerts.jsonl",
        "deadletter.jsonl",
        "summary.json",
    ]
    assert (tmp_path / "state" / f"{load_pipeline_file(VAULT).name}.state").is_file()
    done = summary(out)
    assert done["scored"] + done["counts"].get("internal", 0) == calls(small_log)
    assert f"{done['scored']:,} events scored" in result.output
    assert str(out) in result.output


def test_second_run_resumes_and_alerts_nothing_twice(tmp_path, small_log):
    first = run(tmp_path, "--source", small_log)
    scored = summary(tmp_path / "out")["scored"]
    second = run(tmp_path, "--source", small_log)
    assert first.exit_code == second.exit_code == 0
    assert "resumed state from" not in first.output
    assert "resumed state from" in second.output
    again = summary(tmp_path / "out")
    assert again["resumed"] is True
    assert again["scored"] == 0
    assert again["counts"]["already scored"] == scored
    alerts = jsonl(tmp_path / "out" / "alerts.jsonl")
    assert len({a["alert_id"] for a in alerts}) == len(alerts)


def test_fresh_ignores_the_saved_state(tmp_path, small_log):
    run(tmp_path, "--source", small_log)
    scored = summary(tmp_path / "out")["scored"]
    result = run(tmp_path, "--source", small_log, "--fresh")
    assert result.exit_code == 0, result.output
    assert "resumed" not in result.output
    fresh = summary(tmp_path / "out")
    assert fresh["resumed"] is False
    assert fresh["scored"] == scored
    alerts = jsonl(tmp_path / "out" / "alerts.jsonl")
    assert len({a["alert_id"] for a in alerts}) == len(alerts)  # same alerts, written once


def test_several_sources_and_a_directory(tmp_path, small_log):
    lines = small_log.read_bytes().splitlines(keepends=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit-1.log").write_bytes(b"".join(lines[:300]))
    (logs / "audit-2.log").write_bytes(b"".join(lines[300:]))
    result = run(tmp_path, "--source", logs)
    assert result.exit_code == 0, result.output
    from_directory = summary(tmp_path / "out")
    other = tmp_path / "other"
    other.mkdir()
    result = run(
        other, "--source", logs / "audit-1.log", "--source", logs / "audit-2.log", "--quiet"
    )
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet
    from_files = summary(other / "out")
    assert from_files["records"] == from_directory["records"] == len(lines)
    assert from_files["scored"] == from_directory["scored"]


def test_stdin_is_a_source(tmp_path, small_log):
    result = run(tmp_path, "--source", "-", input=small_log.read_bytes())
    assert result.exit_code == 0, result.output
    assert summary(tmp_path / "out")["records"] == len(small_log.read_bytes().splitlines())


def test_bad_pipeline_file_names_the_file_and_the_key(tmp_path, small_log):
    pipeline = tmp_path / "broken.toml"
    pipeline.write_text('name = "broken"\n[source]\nreorder_window = "five minutes"\n')
    result = detector("run", pipeline, "--source", small_log, "--out", tmp_path / "out")
    assert failed_cleanly(result)
    assert result.exit_code == 1
    assert f"{pipeline}: source.reorder_window: not a duration" in result.output
    assert not (tmp_path / "out").exists()


def test_bad_profile_names_the_profile_and_the_key(tmp_path, small_log):
    profile = tmp_path / "profile.toml"
    profile.write_text('name = "p"\n[detectors.volume]\nwindow = "a while"\n')
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text('name = "p"\n[model]\nprofile = "profile.toml"\n')
    result = detector("run", pipeline, "--source", small_log, "--out", tmp_path / "out")
    assert failed_cleanly(result)
    assert f"{profile}: detectors.volume.window:" in result.output


def test_missing_pipeline_file_is_an_error_not_a_traceback(tmp_path, small_log):
    result = detector("run", tmp_path / "absent.toml", "--source", small_log)
    assert failed_cleanly(result)
    assert "absent.toml" in result.output and "cannot read the file" in result.output


def test_no_input_is_a_usage_error(tmp_path):
    result = run(tmp_path)
    assert result.exit_code == 2
    assert "Usage:" in result.output and "no input" in result.output
    assert "Traceback" not in result.output


def test_missing_source_is_named(tmp_path):
    result = run(tmp_path, "--source", tmp_path / "absent.log")
    assert failed_cleanly(result)
    assert f"no such file or directory: {tmp_path / 'absent.log'}" in result.output


def test_changed_profile_refuses_the_old_state_until_fresh(tmp_path, small_log):
    profile = tmp_path / "profile.toml"
    profile.write_text((REPO / "models" / "default.toml").read_text())
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text('name = "p"\n[model]\nprofile = "profile.toml"\n')
    state = ("--out", tmp_path / "out", "--state", tmp_path / "state")
    assert detector("run", pipeline, "--source", small_log, *state).exit_code == 0
    profile.write_text(profile.read_text().replace('window = "5m"', 'window = "10m"'))
    refused = detector("run", pipeline, "--source", small_log, *state)
    assert failed_cleanly(refused)
    assert "detectors changed" in refused.output and "--fresh" in refused.output
    assert detector("run", pipeline, "--source", small_log, *state, "--fresh").exit_code == 0
