"""Output files: alerts written once per alert id across restarts; JSON written atomically."""

from __future__ import annotations

import os

import orjson
import pytest

from detector.runtime.outputs import AlertFile, JsonlFile, write_json


def alert(alert_id: str, risk: float = 0.7) -> dict:
    return {"alert_id": alert_id, "risk": risk, "reasons": ["first access from BR"]}


def read_lines(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_jsonl_file_appends_one_line_per_record(tmp_path):
    path = tmp_path / "out" / "deadletter.jsonl"
    first = JsonlFile(path)
    first.write({"reason": "not JSON"})
    first.close()
    second = JsonlFile(path)
    second.write({"reason": "scoring failed"})
    second.close()
    assert read_lines(path) == [{"reason": "not JSON"}, {"reason": "scoring failed"}]
    assert second.written == 1


def test_jsonl_file_flush_makes_lines_visible_before_close(tmp_path):
    path = tmp_path / "alerts.jsonl"
    out = JsonlFile(path)
    out.write({"n": 1})
    out.flush()
    try:
        assert read_lines(path) == [{"n": 1}]
    finally:
        out.close()


def test_alert_id_is_written_once(tmp_path):
    path = tmp_path / "alerts.jsonl"
    alerts = AlertFile(path)
    alerts.write(alert("alert-a"))
    alerts.write(alert("alert-a", risk=0.9))
    alerts.write(alert("alert-b"))
    alerts.close()
    assert [a["alert_id"] for a in read_lines(path)] == ["alert-a", "alert-b"]
    assert read_lines(path)[0]["risk"] == 0.7  # the first one stays
    assert alerts.written == 2


def test_alert_id_is_written_once_across_reopen(tmp_path):
    path = tmp_path / "alerts.jsonl"
    before = AlertFile(path)
    before.write(alert("alert-a"))
    before.close()
    after = AlertFile(path)
    after.write(alert("alert-a"))
    after.write(alert("alert-c"))
    after.close()
    assert [a["alert_id"] for a in read_lines(path)] == ["alert-a", "alert-c"]


def test_alert_file_reopens_past_a_torn_last_line(tmp_path):
    """A crash mid-write leaves half a line; the next alert must still be a line of its own."""
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(orjson.dumps(alert("alert-a")) + b"\n" + b'{"alert_id": "alert-b", "ri')
    alerts = AlertFile(path)
    alerts.write(alert("alert-a"))
    alerts.write(alert("alert-b"))
    alerts.close()
    *_, last = path.read_bytes().splitlines()
    assert orjson.loads(last) == alert("alert-b")
    assert path.read_bytes().count(b'"alert-a"') == 1


def test_write_json_writes_sorted_indented_json_and_replaces_the_old(tmp_path):
    path = tmp_path / "out" / "summary.json"
    write_json(path, {"b": 1, "a": [1, 2]})
    write_json(path, {"scored": 3, "alerts": 1})
    assert orjson.loads(path.read_bytes()) == {"scored": 3, "alerts": 1}
    assert path.read_text().index('"alerts"') < path.read_text().index('"scored"')
    assert "\n  " in path.read_text()
    assert os.listdir(path.parent) == ["summary.json"]  # no temporary file left


def test_write_json_never_leaves_half_a_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    write_json(path, {"scored": 1})

    def crash(*_):
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        write_json(path, {"scored": 2})
    assert orjson.loads(path.read_bytes()) == {"scored": 1}
