"""Raw records from files, directories, ``.gz`` files and stdin, optionally followed.

A file is read line by line (JSON lines, as Vault's file audit device and log shippers
write them), unless its first line is not a complete JSON document: then the file is one
pretty-printed document (a CloudTrail ``{"Records": [...]}`` file) and is read whole.
"""

from __future__ import annotations

import gzip
import io
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

__all__ = ["IDLE", "STDIN", "Origin", "Record", "expand", "follow", "read_all", "total_bytes"]

STDIN = "-"
#: where a record came from: (file name, line number)
Origin = tuple[str, int]
Record = tuple[bytes, Origin]
#: yielded by :func:`follow` when no record arrived for a poll interval
IDLE: Record = (b"", ("idle", 0))
_CHUNK = 1 << 22


def expand(sources: list[str]) -> list[str]:
    """Files in the order they are read: directories become their files, sorted by name
    (rotated and CloudTrail files are named by time); hidden files are skipped."""
    paths: list[str] = []
    for source in sources:
        if source == STDIN:
            paths.append(STDIN)
            continue
        path = Path(source)
        if path.is_dir():
            paths.extend(
                str(p)
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            paths.append(str(path))
        else:
            raise FileNotFoundError(f"no such file or directory: {source}")
    return paths


def total_bytes(paths: list[str]) -> int:
    return sum(os.path.getsize(p) for p in paths if p != STDIN)


def read_all(paths: list[str], advance: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Every record of every path, in order; ``advance(n)`` reports bytes read."""
    for path in paths:
        if path == STDIN:
            yield from _lines(sys.stdin.buffer, "stdin")
            continue
        with _open(path) as stream:
            yield from _records(stream, path, advance)


def _open(path: str) -> BinaryIO:
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller's with-block
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return _CountingGzip(raw)
    return raw


class _CountingGzip(gzip.GzipFile):
    """A gzip reader whose ``raw_position`` tells the compressed bytes consumed (progress)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    @property
    def raw_position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        super().close()
        self._raw.close()


def _records(stream: BinaryIO, name: str, advance: Callable[[int], None] | None):
    first = stream.readline()
    if not first:
        return
    if first.strip() and not _is_json(first):
        document = first + stream.read()
        _advance(stream, advance)
        yield document, (name, 1)
        return
    position = [0]

    def report() -> None:
        if advance is not None:
            now = _position(stream)
            advance(now - position[0])
            position[0] = now

    if first.strip():
        yield first, (name, 1)
    # Big chunks split in C: far cheaper than a Python iteration per line. Lines keep no
    # newline; blank ones are skipped.
    number, tail = 1, b""
    while chunk := stream.read(_CHUNK):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            number += 1
            if line[:1] > b" " or line.strip():  # strip (a copy) only if it may be blank
                yield line, (name, number)
        report()
    if tail.strip():
        yield tail, (name, number + 1)
    report()


def _lines(stream: BinaryIO, name: str) -> Iterator[Record]:
    for number, line in enumerate(stream, start=1):
        if line[:1] > b" " or line.strip():
            yield line, (name, number)


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _position(stream: BinaryIO) -> int:
    return stream.raw_position if isinstance(stream, _CountingGzip) else stream.tell()


def _advance(stream: BinaryIO, advance: Callable[[int], None] | None) -> None:
    if advance is not None:
        advance(_position(stream))


def follow(paths: list[str], poll_interval: float, stop: threading.Event) -> Iterator[Record]:
    """Records as they are written, like ``tail -F``; yields :data:`IDLE` when quiet.

    Each path is read from its start, then followed; a file that is rotated (replaced by a
    new file of the same name) or truncated is reopened from the start. A reader thread
    per path feeds one queue, so quiet periods are noticed even on stdin.
    """
    records: queue.Queue[Record] = queue.Queue(maxsize=10_000)
    for path in paths:
        reader = _follow_stdin if path == STDIN else _follow_file
        thread = threading.Thread(
            target=reader, args=(path, poll_interval, stop, records), daemon=True
        )
        thread.start()
    while not stop.is_set():
        try:
            yield records.get(timeout=poll_interval)
        except queue.Empty:
            yield IDLE


def _put(records: queue.Queue, record: Record, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            records.put(record, timeout=0.5)
            return
        except queue.Full:
            continue


def _follow_stdin(_: str, __: float, stop: threading.Event, records: queue.Queue) -> None:
    for record in _lines(sys.stdin.buffer, "stdin"):
        _put(records, record, stop)
        if stop.is_set():
            return


def _follow_file(path: str, poll: float, stop: threading.Event, records: queue.Queue) -> None:
    while not stop.is_set():
        try:
            stream = open(path, "rb")  # noqa: SIM115 - reopened on rotation
        except FileNotFoundError:
            time.sleep(poll)
            continue
        with stream:
            inode = os.fstat(stream.fileno()).st_ino
            number, partial = 0, b""
            while not stop.is_set():
                line = stream.readline()
                if line.endswith(b"\n"):
                    number += 1
                    line = (partial + line).rstrip()
                    partial = b""
                    if line:
                        _put(records, (line, (path, number)), stop)
                    continue
                partial += line
                if _rotated(path, inode, stream.tell()):
                    break
                time.sleep(poll)


def _rotated(path: str, inode: int, position: int) -> bool:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return False  # mid-rotation: wait for the new file
    return status.st_ino != inode or status.st_size < position
