"""The local runtime's output files: ``alerts.jsonl``, ``deadletter.jsonl``, ``summary.json``.

Alert ids are deterministic (from the event id), and the alert file remembers the ids it
already holds, so a restart that sees the same events again adds nothing twice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

__all__ = ["AlertFile", "JsonlFile", "write_json"]


class JsonlFile:
    """An append-only JSON-lines file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.written = 0
        self._stream = open(path, "ab")  # noqa: SIM115 - closed in close()
        if _ends_mid_line(path):
            self._stream.write(b"\n")  # a crash cut the last line: start a new one

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(orjson.dumps(record) + b"\n")
        self.written += 1

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


class AlertFile(JsonlFile):
    """``alerts.jsonl``: writes each alert id once, across restarts."""

    def __init__(self, path: Path) -> None:
        self._seen: set[str] = set()
        if path.exists():
            with open(path, "rb") as existing:
                for line in existing:
                    try:
                        self._seen.add(orjson.loads(line)["alert_id"])
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        continue
        super().__init__(path)

    def write(self, record: dict[str, Any]) -> None:
        if record["alert_id"] in self._seen:
            return
        self._seen.add(record["alert_id"])
        super().write(record)


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def write_json(path: Path, value: Any) -> None:
    """Write a JSON file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(temporary, path)
